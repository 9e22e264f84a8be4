"""``SampleDecoder``: the batches runtime.js hands over become runs with tags restored."""

from __future__ import annotations

import math

import pytest

from jsrunner.metrics.batches import SampleDecoder


def test_contexts_tag_sets_and_times():
    d = SampleDecoder()
    vu_tags = {"scenario": "s", "group": ""}
    runs = d.decode([
        [[5, "my_t", [1, vu_tags], [2, {"k": "a"}], 0, 0], 2,
         [6, "my_g", 1, 0, {"trace": "x"}, 1], 1,
         5, 1,
         [7, "my_t", 1, 2, 1, 1], 2],
        [1, 2, 3.5, 4, 5, 6], [1000, 5, 2]]).runs
    assert runs == [("my_t", {"scenario": "s", "group": "", "k": "a"}, None, [1, 2], None),
                    ("my_g", vu_tags, {"trace": "x"}, [3.5], [1000]),
                    ("my_t", {"scenario": "s", "group": "", "k": "a"}, None, [4], None),
                    ("my_t", {"scenario": "s", "group": "", "k": "a"}, {"trace": "x"}, [5, 6], [1005, 1007])]
    assert runs[0][1] is runs[2][1] is runs[3][1]  # one merged dict per (tags, extra tags)
    # later batches use the numbers alone
    again = d.decode([[6, 1, 5, 1], [8, 9], [3]]).runs
    assert again == [("my_g", vu_tags, {"trace": "x"}, [8], [3]), ("my_t", runs[0][1], None, [9], None)]


def test_text_values_and_drops():
    d = SampleDecoder()
    runs = d.decode([[[3, "my_t", 0, 0, 0, 0], 3, 0, 0, [3, "my_c", [1, {"a": "b"}], 0, 0, 0], 1],
                     [1, "Infinity", "-Infinity", 2], [], 1]).runs
    assert runs[0][3][1:] == [math.inf, -math.inf] and runs[1] == ("my_c", {"a": "b"}, None, [2.0], None)
    assert set(d.contexts) == {3} and d.contexts[3][0] == "my_c"  # the one defined after the drop
    with pytest.raises(KeyError):  # a number from before a drop is never sent again
        d.decode([[[4, "my_t", 9, 0, 0, 0], 1], [1], []])


def _engine(track_groups: bool):
    from jsrunner.metrics.engine import MetricsEngine
    e = MetricsEngine(track_groups=track_groups)
    e.registry.define("my_t", "trend")
    e.registry.define("my_c", "counter")
    e.configure_thresholds({"my_t{k:a}": ["avg>0"], "checks{check:ok}": ["rate>0"]})
    return e


@pytest.mark.parametrize("track_groups", [False, True])
def test_interleaved_runs_are_merged_per_metric_and_context(track_groups):
    d = SampleDecoder()
    g = {"scenario": "s", "group": "::g"}
    first = d.decode([[[5, "my_t", [1, g], [2, {"k": "a"}], 0, 0], 1, [6, "my_c", 1, 0, 0, 0], 1,
                       [7, "my_t", 1, [3, {"k": "b"}], 0, 0], 1, [8, "checks", 1, [4, {"check": "ok"}], 0, 0], 1],
                      [0.1, 1, 0.2, 1], []])
    pattern = [5, 6, 5, 6, 8, 5, 7, 5, 5, 6, 8]
    values = [0.1 * i + (i % 3) for i in range(len(pattern))]
    values[4] = 0  # a failed check
    pairs = [x for ref in pattern for x in (ref, 1)]
    runs = d.decode([pairs, values, []]).runs
    assert [(r[0], r[1].get("k"), r[3]) for r in runs] == [
        ("my_t", "a", [values[0], values[2], values[5]]), ("my_c", None, [values[1], values[3], values[9]]),
        ("checks", None, [values[4], values[10]]), ("my_t", "b", [values[6]]), ("my_t", "a", values[7:9])]
    merged, plain = _engine(track_groups), _engine(track_groups)
    for e in (merged, plain):
        e.ingest_runs([(r[0], r[1], r[3], 0) for r in first.runs])
    merged.ingest_runs([(r[0], r[1], r[3], 0) for r in runs])
    ctx = d.contexts
    plain.ingest_runs([(ctx[ref][0], ctx[ref][1], [v], 0) for ref, v in zip(pattern, values)])
    assert merged.snapshot() == plain.snapshot()


def test_batches_with_times_or_definitions_are_not_regrouped():
    d = SampleDecoder()
    runs = d.decode([[[5, "my_t", 0, 0, 0, 0], 1, [6, "my_c", 0, 0, 0, 0], 1, 5, 1], [1, 2, 3], []]).runs
    assert [r[0] for r in runs] == ["my_t", "my_c", "my_t"]
    runs = d.decode([[[7, "my_g", 0, 0, 0, 1], 1, 5, 1, 7, 1, 5, 1], [1, 2, 3, 4], [10, 1]]).runs
    assert [r[0] for r in runs] == ["my_g", "my_t", "my_g", "my_t"]
    runs = d.decode([[5, 1, 6, 1, 5, 1], [1, 2, 3], []]).runs
    assert [(r[0], r[3]) for r in runs] == [("my_t", [1, 3]), ("my_c", [2])]
