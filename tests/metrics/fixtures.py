"""Engines filled with fixed samples that reproduce real k6 v1.1.0 summaries.

* ``spec_example_engine``: the compact example of runner.md §8.1 (values solved so that
  every displayed number matches the spec's text).
* ``t1_engine``: the samples of ``data/t1.js`` (thresholds of every kind, a setup check,
  nested groups, custom metrics of the four types); ``data/k6_*_t1.txt`` are real k6
  v1.1.0 outputs of that script. Measured values (durations, rates) are reproduced by
  choosing the run duration and duration samples that format identically.
"""

from __future__ import annotations

from pathlib import Path

from jsrunner.metrics.engine import MetricsEngine

DATA = Path(__file__).parent / "data"


def read_data(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


class SampleMaker:
    def __init__(self) -> None:
        self.samples: list = []
        self.t = 1_700_000_000_000_000_000

    def __call__(self, name: str, value: float, scenario: str | None = "default", **tags: str) -> None:
        self.t += 1000
        base = {"group": ""}
        if scenario is not None:
            base["scenario"] = scenario
        base.update(tags)
        self.samples.append((name, self.t, float(value), base, None))


# §8.1 example: duration so that 4 samples → 380.206886/s, 8 → 760.413772/s, 12 → 1140.620657/s
SPEC_EXAMPLE_DURATION_MS = 1000 / 95.05172145


def spec_example_engine(track_groups: bool = False) -> MetricsEngine:
    e = MetricsEngine(track_groups=track_groups)
    r = e.registry
    r.define("my_counter", "counter")
    r.define("my_gauge", "gauge")
    r.define("my_rate", "rate")
    r.define("my_trend", "trend")
    r.define("my_time_trend", "trend", "time")
    e.configure_thresholds({
        "my_trend": ["p(95)<200", "avg<100"],
        "my_rate": ["rate>0.9"],
        "my_counter{tag:a}": ["count>=2"],
        "checks": [{"threshold": "rate>0.5", "abortOnFail": False}],
        "ws_connecting": ["p(90)<1000"],
    })
    s = SampleMaker()
    it_dur = [2.805, 4.38, 5.39, 7.285]
    ws_conn = [1.665, 2.66, 3.15, 4.425]
    ws_sess = [2.545, 4.13, 4.16, 6.735]
    data_recv = [210, 210, 210, 210]
    data_sent = [202, 202, 202, 202]
    for i in range(4):
        s("checks", 1, group="::grp one", check="is one")
        s("checks", 0, group="::grp one", check="is two")
        s("checks", 1, group="::grp one::nested", check="nested check")
        s("group_duration", 0.05, group="::grp one::nested")
        s("group_duration", 0.4, group="::grp one")
        s("my_counter", 1, tag="a")
        s("my_counter", 2, tag="b")
        s("my_gauge", 5 if i == 0 else 6)
        s("my_rate", i % 2)
        s("my_trend", 50)
        s("my_trend", 60)
        s("my_time_trend", 1234)
        s("ws_connecting", ws_conn[i], url="ws://127.0.0.1:1/x")
        s("ws_msgs_sent", 1)
        s("ws_msgs_sent", 1)
        s("ws_msgs_received", 1)
        s("ws_session_duration", ws_sess[i])
        s("ws_sessions", 1)
        s("data_sent", data_sent[i])
        s("data_received", data_recv[i])
        s("iteration_duration", it_dur[i])
        s("iterations", 1)
    e.ingest(s.samples)
    return e


T1_THRESHOLDS = {
    "my_trend": ["avg < 100", "p(99)<1000", "med>1", "p(99.9)  >=  1", "avg!=1"],
    "my_counter{tag:a}": ["count>=2", "rate>0"],
    "Zz{t:a}": ["count>=0"],
    "my_gauge": ["value>0"],
    "nodata_rate": ["rate>0.5"],
    "my_rate": ["rate>0.9"],
    "my_time_trend": ["p(95)<2000", "p(50)<2000"],
}
T1_TREND_STATS = ["avg", "min", "max", "p(90)", "count"]

#: per captured run: (samples per second of one sample, iteration durations, group durations)
T1_RUNS = {
    "compact": (866.430246735, [0.040519, 0.125879], [0.01] * 6),
    "full": (1999.1163905, [0.046678, 0.127228], [0.01] * 6),
    "legacy": (1750.4275419, [0.040921, 0.260512],
               [0.003835, 0.0078, 0.0078, 0.007805, 0.018195, 0.202095]),
}


def t1_engine(mode: str) -> tuple[MetricsEngine, float]:
    """Engine + duration (ms) reproducing the ``mode`` run of data/t1.js."""
    rate1, it_durs, grp_durs = T1_RUNS[mode]
    e = MetricsEngine(track_groups=(mode == "full"))
    r = e.registry
    for name, mtype, contains in [("my_counter", "counter", "default"), ("my_gauge", "gauge", "default"),
                                  ("my_rate", "rate", "default"), ("my_trend", "trend", "default"),
                                  ("my_time_trend", "trend", "time"), ("my_data", "counter", "default"),
                                  ("Zz", "counter", "default"), ("nodata_rate", "rate", "default")]:
        r.define(name, mtype, contains)
    e.configure_thresholds(T1_THRESHOLDS)
    s = SampleMaker()
    s("checks", 1, scenario=None, group="::setup", check="setup check")
    g = iter(grp_durs)
    for it in range(2):
        s("checks", 1, group="::g_b", check="b1")
        s("checks", 0, group="::g_b", check="same")
        s("checks", 0, group="::g_b::inner", check="same")
        s("group_duration", next(g), group="::g_b::inner")
        s("group_duration", next(g), group="::g_b")
        s("checks", 1, group="::g_a", check="a1")
        s("my_counter", 1, group="::g_a", tag="a")
        s("group_duration", next(g), group="::g_a")
        s("my_counter", 3, tag="b")
        s("my_gauge", -5)
        s("my_gauge", -3)
        s("my_rate", 1)
        s("my_rate", 0)
        s("my_trend", 50)
        s("my_trend", 60)
        s("my_time_trend", 1234.5678)
        s("data_sent", 0)
        s("data_received", 0)
        s("iteration_duration", it_durs[it])
        s("iterations", 1)
    e.ingest(s.samples)
    duration = 1000 / rate1
    e.evaluate_thresholds(duration)
    return e, duration
