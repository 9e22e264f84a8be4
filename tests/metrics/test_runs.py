"""Runs of samples (one metric, one tag set, values in order): sinks' ``add_many``,
``MetricsEngine.ingest_runs`` and the hub's handling of :class:`SampleRuns` give exactly
what the same samples fed one by one give."""

from __future__ import annotations

import json
from itertools import groupby

import pytest

from jsrunner.metrics.engine import MetricsEngine
from jsrunner.metrics.sinks import CounterSink, GaugeSink, RateSink, TrendSink
from jsrunner.metrics_hub import MetricsHub, SampleRuns
from tests.metrics.fixtures import spec_example_engine

#: values whose float sum depends on the order of additions
AWKWARD = [0.1, 0.2, 0.3, 1e16, 1.0, -1e16, 2.5, 3, 0, -0.0, 7]


@pytest.mark.parametrize("cls", [CounterSink, GaugeSink, RateSink, TrendSink])
@pytest.mark.parametrize("values", [AWKWARD, [-5, -3], [0, 0], [4], [-2.5, 7, 1, 0.0]])
def test_add_many_is_add_of_each_value(cls, values):
    for split in (1, 3):  # the first call starts from an empty sink, the second does not
        one, many = cls(), cls()
        for chunk, t in ((values[:split], 10), (values[split:], 20)):
            for v in chunk:
                one.add(float(v), t)
            if chunk:
                many.add_many(chunk, t)
        assert one.snapshot() == many.snapshot()


def test_gauge_add_many_keeps_k6s_max_and_a_float_last_value():
    g = GaugeSink()
    g.add_many([-5, -3], 7)
    assert (g.value, g.min, g.max, g.n, g.time_ns) == (-3.0, -5.0, 0.0, 2, 7)
    assert type(g.value) is float and type(g.min) is float


def _runs(samples):
    """Consecutive samples of one metric sharing a tag dict, as ``ingest_runs`` runs."""
    runs = []
    for (name, _), group in groupby(samples, key=lambda s: (s[0], id(s[3]))):
        group = list(group)
        runs.append((name, group[0][3], [s[2] for s in group], group[-1][1]))
    return runs


def _samples():
    e = spec_example_engine()
    a = {"scenario": "default", "group": "::g", "tag": "a"}
    b = {"scenario": "s2", "group": "::g::h", "tag": "b"}
    c = {"scenario": "default", "group": "::g", "check": "ok"}
    out, t = [], 1_700_000_000_000_000_000
    for i in range(50):
        for name, v, tags in (("my_counter", 0.1 * i, a), ("my_counter", 0.1 * i, a), ("my_counter", 3, b),
                              ("my_gauge", -i, a), ("my_gauge", i % 7, b), ("my_rate", i % 3, a),
                              ("my_trend", 0.1 * i, a), ("my_trend", 0.1 * i, b), ("checks", i % 2, c),
                              ("checks", 1, c), ("group_duration", 1.5, b)):
            t += 1000
            out.append((name, t, float(v), tags, None))
    return e, out


@pytest.mark.parametrize("track_groups", [False, True])
def test_ingest_runs_equals_ingest_of_each_sample(track_groups):
    _, samples = _samples()
    many = spec_example_engine(track_groups=track_groups)
    one = spec_example_engine(track_groups=track_groups)
    one.ingest(samples)
    runs = _runs(samples)
    assert len(runs) < len(samples)  # some runs have several values
    many.ingest_runs(runs)
    assert json.dumps(one.snapshot(), sort_keys=True) == json.dumps(many.snapshot(), sort_keys=True)
    assert one.observed() == many.observed()
    assert one.check_totals == many.check_totals


def test_a_submetric_added_later_gets_later_runs():
    e = MetricsEngine()
    e.registry.define("my_c", "counter")
    e.ingest_runs([("my_c", {"k": "a"}, [1, 2], 5)])
    e.add_submetric("my_c{k:a}")
    e.ingest_runs([("my_c", {"k": "a"}, [4], 6), ("my_c", {"k": "b"}, [8], 7)])
    assert e.sink("my_c").count == 15
    assert e.sink("my_c{k:a}").count == 4


def test_sample_runs_iterate_as_rows():
    tags = {"a": "1"}
    runs = SampleRuns([("m", tags, None, [1, 2.5, 3], [1_000_000, 1_000_250, 1_000_251]),
                       ("n", {}, {"trace": "x"}, [7], [5]), ("o", {}, None, [8], None)])
    assert list(runs) == [["m", 1, tags, 1000.0, None], ["m", 2.5, tags, 1000.25, None],
                          ["m", 3, tags, 1000.251, None], ["n", 7, {}, 0.005, {"trace": "x"}],
                          ["o", 8, {}, 0.0, None]]
    assert len(runs) == 5


class _Output:
    def __init__(self):
        self.rows = []

    def write(self, rows):
        self.rows.extend(rows)


def test_hub_drain_keeps_order_and_converts_times():
    hub = MetricsHub()
    hub.registry.define("my_m", "gauge")
    hub.registry.define("my_n", "counter")
    hub.engine = MetricsEngine(hub.registry)
    out = _Output()
    hub.outputs.append(out)
    hub.mono0_ms, hub.wall0_ns = 1000.0, 5_000_000_000_000
    tags = {"k": "v"}
    hub.sink(None, [["my_m", 1, tags, 1001.0, None]])
    hub.sink(None, SampleRuns([("my_m", tags, None, [2, 3], [1_002_000, 1_002_001]),
                               ("my_n", tags, {"x": "y"}, [4], [1_003_000])]))
    hub.sink(None, [["my_m", 5, tags, 1004.5, None]])
    hub.drain()
    wall = hub.wall0_ns
    assert out.rows == [("my_m", wall + 1_000_000, 1.0, tags, None), ("my_m", wall + 2_000_000, 2.0, tags, None),
                        ("my_m", wall + 2_001_000, 3.0, tags, None), ("my_n", wall + 3_000_000, 4.0, tags, {"x": "y"}),
                        ("my_m", wall + 4_500_000, 5.0, tags, None)]
    g = hub.engine.sink("my_m")
    assert (g.value, g.min, g.max, g.n, g.time_ns) == (5.0, 1.0, 5.0, 4, wall + 4_500_000)


def test_hub_drain_without_outputs_feeds_the_last_time_of_a_run():
    hub = MetricsHub()
    hub.registry.define("my_m", "gauge")
    hub.engine = MetricsEngine(hub.registry)
    hub.mono0_ms, hub.wall0_ns = 1000.0, 5_000_000_000_000
    hub.sink(None, SampleRuns([("my_m", {}, None, [2, 3], [1_002_000, 1_002_007])]))
    hub.drain()
    assert hub.engine.sink("my_m").time_ns == hub.wall0_ns + 2_007_000


def test_go_float_shortcut_matches_the_general_formatting():
    import random

    from jsrunner.metrics.json_output import _go_float_general, go_float
    rng = random.Random(7)
    values = [1e-4, 0.00011, 999999.0, 999999.5, 1e6, 123456.5, 0.5, 100.0, -100.0, 3, -7.25, 1 / 3]
    values += [rng.uniform(-2e6, 2e6) for _ in range(2000)] + [rng.uniform(-1, 1) for _ in range(2000)]
    values += [float(rng.randrange(-10**7, 10**7)) for _ in range(2000)]
    values += [rng.uniform(0, 1) * 10 ** rng.randrange(-6, 8) for _ in range(2000)]
    for v in values:
        assert go_float(v) == _go_float_general(float(v)), v


def test_json_lines_of_shared_and_equal_tag_dicts():
    from jsrunner.metrics.json_output import JsonOutput

    e = MetricsEngine()
    e.registry.define("my_m", "counter")
    out = JsonOutput("-", e, stdout=None)
    a, b = {"k": "1", "a": "<"}, {"k": "2"}
    text = out.format_batch([("my_m", 1_700_000_000_000_000_000, 1.0, a, None),
                             ("my_m", 1_700_000_000_500_000_000, 2.0, b, {"t": "x"}),
                             ("my_m", 1_700_000_001_000_000_001, 3.0, a, {"t": "x"})])
    lines = text.splitlines()
    assert lines[1:] == [
        '{"metric":"my_m","type":"Point","data":{"time":"2023-11-14T22:13:20Z","value":1,"tags":{"a":"\\u003c","k":"1"}}}',
        '{"metric":"my_m","type":"Point","data":{"time":"2023-11-14T22:13:20.5Z","value":2,"tags":{"k":"2"},"metadata":{"t":"x"}}}',
        '{"metric":"my_m","type":"Point","data":{"time":"2023-11-14T22:13:21.000000001Z","value":3,"tags":{"a":"\\u003c","k":"1"},"metadata":{"t":"x"}}}',
    ]
    assert lines[0].startswith('{"type":"Metric"')
