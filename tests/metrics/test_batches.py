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
