"""MetricsEngine: ingest, sub-metrics, group/check tree, observed set, snapshot/merge."""

from __future__ import annotations

import json
import pickle

import pytest

from jsrunner.errors import MetricError
from jsrunner.metrics.engine import MetricsEngine, md5_id
from jsrunner.metrics.summary import SummaryOptions, render_summary
from tests.metrics.fixtures import SPEC_EXAMPLE_DURATION_MS, SampleMaker, spec_example_engine


def _engine(**kw) -> MetricsEngine:
    e = MetricsEngine(**kw)
    e.registry.define("my_c", "counter")
    e.registry.define("my_t", "trend", "time")
    return e


def test_ingest_all_types():
    e = _engine()
    e.registry.define("my_g", "gauge")
    e.registry.define("my_r", "rate")
    e.ingest([("my_c", 1, 2.0, {}, None), ("my_c", 2, 3.0, {}, None), ("my_g", 3, 4.0, {}, None),
              ("my_g", 4, 1.0, {}, None), ("my_r", 5, 1.0, {}, None), ("my_r", 6, 0.0, {}, None),
              ("my_t", 7, 10.0, {}, None), ("my_t", 8, 30.0, {}, None)])
    assert e.sink("my_c").count == 5
    g = e.sink("my_g")
    assert (g.value, g.min, g.max) == (1, 1, 4)
    assert (e.sink("my_r").passes, e.sink("my_r").total) == (1, 2)
    assert (e.sink("my_t").avg, e.sink("my_t").med) == (20, 20)
    assert e.observed() == ["my_c", "my_g", "my_r", "my_t"]  # first-seen order
    with pytest.raises(MetricError):
        e.ingest([("nosuch", 1, 1.0, {}, None)])


def test_submetric_matching_and_normalisation():
    e = _engine()
    sm = e.add_submetric('my_c{ a : "b" }')
    assert (sm.name, sm.suffix, sm.tags) == ('my_c{a : "b"}', 'a : "b"', {"a": "b"})
    assert e.add_submetric("my_c{a:'b'}") is sm  # same filter → same sub-metric
    assert e.add_submetric("my_c{a:b}") is sm
    two = e.add_submetric("my_c{a:b,c:d}")
    e.ingest([("my_c", 1, 1.0, {"a": "b"}, None), ("my_c", 2, 2.0, {"a": "b", "c": "d", "x": "y"}, None),
              ("my_c", 3, 4.0, {"a": "c", "c": "d"}, None), ("my_c", 4, 8.0, {}, None)])
    assert (e.sink("my_c").count, sm.sink.count, two.sink.count) == (15, 3, 2)
    with pytest.raises(MetricError):
        e.add_submetric("nosuch{a:b}")


def test_submetric_added_after_ingest_rebuilds_feed():
    e = _engine()
    e.ingest([("my_t", 1, 1.0, {"k": "v"}, None)])
    sm = e.add_submetric("my_t{k:v}")
    e.ingest([("my_t", 2, 3.0, {"k": "v"}, None), ("my_t", 3, 5.0, {"k": "w"}, None)])
    assert sm.sink.count == 1 and e.sink("my_t").count == 3


def test_threshold_keys_collapse():
    e = _engine()
    e.configure_thresholds({"my_c{a:b}": ["count>1"], 'my_c{ a : "b" }': ["count>2"]})
    assert list(e.thresholds()) == ["my_c{a:b}"]
    assert [t.source for t in e.thresholds()["my_c{a:b}"]] == ["count>2"]
    # threshold-only metric and the parent of a sub-metric with thresholds are observed
    assert e.observed() == ["my_c", "my_c{a:b}"]


def test_group_check_tree_first_seen_md5():
    e = MetricsEngine()
    s = SampleMaker()
    s("checks", 1, scenario=None, group="::setup", check="in setup")
    s("checks", 1, group="::g::inner", check="deep")
    s("group_duration", 1, group="::g::inner")
    s("checks", 0, group="::g", check="c1")
    s("checks", 1, group="::g", check="c1")
    s("group_duration", 1, group="::g")
    s("group_duration", 1, group="::only_duration")
    s("checks", 0, group="", check="root")
    s("checks", 1, group="::other", check="c1")
    e.ingest(s.samples)
    root = e.root_group
    assert (root.name, root.path, root.id) == ("", "", "d41d8cd98f00b204e9800998ecf8427e")
    assert list(root.groups) == ["setup", "g", "only_duration", "other"]
    g = root.groups["g"]
    assert (g.path, g.id) == ("::g", md5_id("::g"))
    assert md5_id("::grp one") == "e3a09e0e75ce870acf13c569f990f92a"
    assert list(g.groups) == ["inner"] and g.groups["inner"].path == "::g::inner"
    c1 = g.checks["c1"]
    assert (c1.path, c1.passes, c1.fails) == ("::g::c1", 1, 1)
    assert root.checks["root"].path == "::root"
    assert e.check_totals == {"in setup": [1, 0], "deep": [1, 0], "c1": [2, 1], "root": [0, 1]}


def _split_samples():
    s = SampleMaker()
    for i in range(40):
        scen = ("default", "s1", "s2")[i % 3]
        s("checks", i % 2, scenario=scen, group="::g" if i % 4 else "::g::h", check=f"c{i % 3}")
        s("group_duration", float(i), scenario=scen, group="::g")
        s("my_c", float(i), scenario=scen, tag="a" if i % 2 else "b")
        s("my_t", float(i * 3 % 17), scenario=scen, group="::g")
        s("vus", float(i % 5), scenario=None)
    return s.samples


@pytest.mark.parametrize("track", [False, True])
def test_merge_of_two_halves_equals_whole(track):
    samples = _split_samples()

    def fresh():
        e = _engine(track_groups=track)
        e.configure_thresholds({"my_c{tag:a}": ["count>0"], "my_t": ["p(95)<10"]})
        return e
    whole = fresh()
    whole.ingest(samples)
    a, b = fresh(), fresh()
    a.ingest(samples[:77])
    b.ingest(samples[77:])
    snap = json.loads(json.dumps(b.snapshot()))  # crosses a process boundary as JSON
    a.merge(snap)
    mode = "full" if track else "compact"
    opts = SummaryOptions(mode=mode, trend_stats=["avg", "min", "med", "max", "p(90)", "count"])
    for e in (whole, a):
        e.evaluate_thresholds(1000.0)
    assert render_summary(a, 1000.0, opts) == render_summary(whole, 1000.0, opts)
    assert render_summary(a, 1000.0, SummaryOptions(mode="legacy")) == \
        render_summary(whole, 1000.0, SummaryOptions(mode="legacy"))
    # halves concatenated in order: even the snapshots (trend values, scopes) are identical
    assert a.snapshot() == whole.snapshot()
    assert pickle.loads(pickle.dumps(a.snapshot())) == whole.snapshot()


def test_merge_into_empty_engine_creates_state():
    src = spec_example_engine()
    dst = MetricsEngine()  # knows neither the custom metrics nor the sub-metric yet
    dst.merge(src.snapshot())
    assert dst.sink("my_counter").count == 12
    assert dst.sink("my_counter{tag:a}").count == 4
    assert dst.root_group.groups["grp one"].checks["is one"].passes == 4


def test_spec_example_summary_from_merged_workers():
    whole = spec_example_engine()
    out_whole = render_summary(whole, SPEC_EXAMPLE_DURATION_MS)
    w1 = spec_example_engine()  # a worker with the same samples: merged counts double
    host = spec_example_engine()
    host.merge(w1.snapshot())
    assert host.sink("checks").total == 24
    assert host.sink("my_trend").count == 16
    assert "my_counter...............................: 24     2281.241315/s" in \
        render_summary(host, SPEC_EXAMPLE_DURATION_MS)
    assert "my_counter...............................: 12     1140.620657/s" in out_whole
