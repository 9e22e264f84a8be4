"""Sink values, percentiles, merge equivalence and snapshots."""

from __future__ import annotations

import json
import pickle
import random

import pytest

from jsrunner.metrics.sinks import (
    CounterSink, GaugeSink, RateSink, TrendSink, new_sink, sink_from_snapshot,
)


def test_counter():
    c = CounterSink()
    assert c.empty and c.rate(1000) == 0
    for v in (1, 2, 3.5):
        c.add(v)
    assert (c.count, c.n, c.empty) == (6.5, 3, False)
    assert c.rate(2000) == 3.25
    assert c.rate(0) == 0.0


def test_gauge_bug_compatible_max():
    g = GaugeSink()
    g.add(-5)
    g.add(-3)
    assert (g.value, g.min, g.max) == (-3, -5, 0)  # k6: max starts at 0
    g2 = GaugeSink()
    for v in (5, 6, 2):
        g2.add(v)
    assert (g2.value, g2.min, g2.max) == (2, 2, 6)


def test_gauge_true_max_option():
    class TrueGauge(GaugeSink):
        __slots__ = ()
        bug_compat_max = False
    g = TrueGauge()
    g.add(-5)
    g.add(-3)
    assert (g.value, g.min, g.max) == (-3, -5, -3)


def test_rate():
    r = RateSink()
    assert r.rate == 0 and r.empty
    for v in (1, 0, 1, 1, 0.5, 0):
        r.add(v)
    assert (r.passes, r.fails, r.total) == (4, 2, 6)
    assert r.rate == 4 / 6


def test_trend_percentiles_spec_values():
    t = TrendSink()
    for v in (10, 1, 4, 2, 3):
        t.add(v)
    assert t.med == 3
    assert round(t.percentile(0.90), 9) == 7.6
    assert round(t.percentile(0.95), 9) == 8.8
    assert round(t.percentile(0.999), 9) == 9.976
    assert (t.min, t.max, t.avg, t.count, t.sum) == (1, 10, 4, 5, 20)
    assert t.stat("p(90)") == t.percentile(0.9)
    assert t.stat("count") == 5


def test_trend_edge_cases():
    t = TrendSink()
    assert (t.min, t.max, t.avg, t.med, t.percentile(0.95), t.count) == (0, 0, 0, 0, 0, 0)
    t.add(7)
    assert (t.percentile(1.01), t.percentile(-0.01), t.med) == (7, 7, 7)
    t.add(9)
    t.add(8)
    # out-of-range percentiles are clamped instead of crashing like k6
    assert t.percentile(1.01) == 9
    assert t.percentile(-0.01) == 7
    assert t.percentile(float("nan")) == 7


def test_trend_interleaved_add_and_percentile():
    rnd = random.Random(1)
    t = TrendSink()
    ref: list[float] = []
    append = t.values.append  # the engine may bind this; sorting must keep it valid
    for i in range(50):
        for _ in range(rnd.randint(1, 30)):
            v = rnd.uniform(-100, 100)
            append(v)
            ref.append(v)
        s = sorted(ref)
        assert t.min == s[0] and t.max == s[-1]
        assert t.percentile(0.5) == pytest.approx(_p(s, 0.5))
        expected_sum = 0.0
        for v in ref:
            expected_sum += v
        assert t.sum == expected_sum  # exact running sum in arrival order
    assert t.count == len(ref)


def _p(s, pct):
    import math
    i = pct * (len(s) - 1)
    j = s[math.floor(i)]
    return j + (s[math.ceil(i)] - j) * (i - math.floor(i))


def _fill(kind, values, t0=0):
    s = new_sink(kind)
    for i, v in enumerate(values):
        s.add(v, t0 + i)
    return s


def _state(s):
    if isinstance(s, TrendSink):
        return (s.count, s.sum, s.min, s.max, s.med, s.percentile(0.9), sorted(s.values))
    if isinstance(s, GaugeSink):
        return (s.value, s.min, s.max, s.n)
    if isinstance(s, RateSink):
        return (s.passes, s.total)
    return (s.count, s.n)


@pytest.mark.parametrize("kind", ["counter", "gauge", "rate", "trend"])
def test_merge_of_halves_equals_whole(kind):
    rnd = random.Random(3)
    values = [float(rnd.randint(-50, 100)) for _ in range(1001)]
    whole = _fill(kind, values)
    a = _fill(kind, values[:400])
    b = _fill(kind, values[400:], t0=400)
    a.merge(b)
    assert _state(a) == _state(whole)


@pytest.mark.parametrize("kind", ["counter", "gauge", "rate", "trend"])
def test_merge_order_independent_and_empty(kind):
    values = [3.0, -1.0, 7.0, 0.0, 2.5]
    whole = _fill(kind, values)
    a = _fill(kind, values[:2])
    b = _fill(kind, values[2:], t0=2)
    b.merge(a)  # later samples first: gauge keeps the value with the latest time
    assert _state(b) == _state(whole)
    empty = new_sink(kind)
    empty.merge(whole)
    assert _state(empty) == _state(whole)
    whole.merge(new_sink(kind))
    assert _state(empty) == _state(whole)


@pytest.mark.parametrize("kind", ["counter", "gauge", "rate", "trend"])
def test_snapshot_roundtrip_json_and_pickle(kind):
    s = _fill(kind, [1.5, -2.0, 3.25, 1e-9, 12345.678])
    snap = s.snapshot()
    again = sink_from_snapshot(json.loads(json.dumps(snap)))
    assert type(again) is type(s) and _state(again) == _state(s)
    assert _state(pickle.loads(pickle.dumps(s))) == _state(s)


def test_trend_snapshot_is_compact():
    t = _fill("trend", [float(i) for i in range(10000)])
    size = len(json.dumps(t.snapshot()))
    assert size < 11 * 10000 + 200  # base64 of 8-byte doubles
