"""Timing math: execution segments (striping), ramping-vus steps, arrival-rate offsets, plans."""

import itertools
import math
import random
from fractions import Fraction

import pytest

from jsrunner.durations import MILLISECOND, SECOND
from jsrunner.schedule import (ExecutionSegment, ExecutionStep, SegmentError, SegmentSequence,
                               combine_plans, constant_arrival_offsets, end_offset, full_tuple,
                               max_planned_vus, max_possible_vus, ramping_arrival_offsets,
                               ramping_vus_graceful_steps, ramping_vus_raw_steps,
                               ramping_vus_target, segment_shares, shared_iterations_share,
                               split_tuples, ticker_period, tuple_from_options, vus_at)
from jsrunner.scenarios import (ConstantArrivalRateConfig, ConstantVUsConfig,
                                PerVUIterationsConfig, RampingArrivalRateConfig,
                                RampingVUsConfig, SharedIterationsConfig, Stage)

S = SECOND
MS = MILLISECOND


# ---------------------------------------------------------------------------------------------
# segments
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("0:1/2", "0:1/2"), ("50%:75%", "1/2:3/4"), ("0.5:0.75", "1/2:3/4"), ("1/3", "0:1/3"),
    ("", "0:1"), ("2/4:75%", "1/2:3/4"), ("0:1", "0:1"),
])
def test_segment_parse(text, expected):
    assert str(ExecutionSegment.parse(text)) == expected


@pytest.mark.parametrize("text,message", [
    ("1/2:1/4", "segment start(0.50) should be less than its end(0.25)"),
    ("x", "'x' is not a valid percentage, decimal, fraction or interval value"),
    ("0:2", "segment end value shouldn't be more than 1 but was 2.00"),
    ("-1/2:1", "segment start value should be at least 0 but was -0.50"),
    ("a%", "'a%' is not a valid percentage"),
])
def test_segment_errors(text, message):
    with pytest.raises(SegmentError) as ei:
        ExecutionSegment.parse(text)
    assert str(ei.value) == message


def test_sequence_parse_fill_and_errors():
    seq = SegmentSequence.parse("0,1/3,2/3")
    assert str(seq) == "0,1/3,2/3,1"  # filled up to 1
    assert len(seq) == 3
    assert str(SegmentSequence.parse("1/2,1")) == "0,1/2,1"
    with pytest.raises(SegmentError, match="at least 2 points are needed"):
        SegmentSequence.parse("0")
    t = tuple_from_options("1/3:2/3", "0,1/3,2/3,1")
    assert t.index == 1 and str(t.segment) == "1/3:2/3"
    t = tuple_from_options("1/2:1", None)
    assert str(t.sequence) == "0,1/2,1" and t.index == 1
    with pytest.raises(SegmentError, match="couldn't find segment 1/4:1/2 in sequence"):
        tuple_from_options("1/4:1/2", "0,1/3,1")


def test_striping_known_pattern():
    seq = SegmentSequence.parse("0,1/3,1")   # lengths 1/3 and 2/3
    assert seq.lcd == 3
    assert seq.owned_in_stripe(1) == [0, 2]  # biggest segment first
    assert seq.owned_in_stripe(0) == [1]
    assert [seq.owner(g) for g in range(7)] == [1, 0, 1, 1, 0, 1, 1]
    # N equal segments = round robin
    eq = SegmentSequence.equal(4)
    assert [eq.owner(g) for g in range(9)] == [0, 1, 2, 3, 0, 1, 2, 3, 0]


def _random_sequence(rng):
    n = rng.randint(1, 6)
    cuts = sorted({rng.randint(1, 23) for _ in range(n - 1)})
    points = [0] + cuts + [24]
    return SegmentSequence([ExecutionSegment(Fraction(a, 24), Fraction(b, 24))
                            for a, b in zip(points, points[1:])])


def test_striping_each_index_owned_exactly_once_and_proportional():
    rng = random.Random(7)
    for _ in range(60):
        seq = _random_sequence(rng)
        owned = [seq.owned_in_stripe(k) for k in range(len(seq))]
        flat = sorted(itertools.chain.from_iterable(owned))
        assert flat == list(range(seq.lcd))
        for k, s in enumerate(seq.segments):
            assert len(owned[k]) == s.length * seq.lcd


def test_scale_sums_are_exact_for_many_values():
    rng = random.Random(11)
    seqs = [SegmentSequence.equal(n) for n in range(1, 9)] + [_random_sequence(rng) for _ in range(30)]
    for seq in seqs:
        for value in list(range(0, 60)) + [rng.randint(0, 10 ** 6) for _ in range(20)]:
            shares = [seq.scale(k, value) for k in range(len(seq))]
            assert sum(shares) == value
            # whole stripes are split exactly in proportion
            for k, s in enumerate(seq.segments):
                assert seq.scale(k, value * seq.lcd) == value * s.length * seq.lcd
    for n in range(1, 9):  # equal segments: shares differ by at most one
        seq = SegmentSequence.equal(n)
        for value in range(200):
            shares = [seq.scale(k, value) for k in range(n)]
            assert max(shares) - min(shares) <= 1 and shares == sorted(shares, reverse=True)


def test_derived_sequence_drops_empty_segments():
    t = split_tuples(3)
    assert [x.scale(2) for x in t] == [1, 1, 0]
    assert t[2].derive(2) is None
    d = t[1].derive(2)
    assert d is not None and str(d.sequence) == "0,1/2,1" and d.index == 1


# ---------------------------------------------------------------------------------------------
# per-segment shares
# ---------------------------------------------------------------------------------------------

def test_shared_iterations_shares_sum_exactly():
    for n in range(1, 9):
        for vus in range(1, 25):
            for iters in (vus, vus + 1, 2 * vus + 3, 97, 1000):
                if iters < vus:
                    continue
                parts = [shared_iterations_share(vus, iters, et) for et in split_tuples(n)]
                assert sum(p[0] for p in parts) == vus
                assert sum(p[1] for p in parts) == iters
                for v, i in parts:
                    if v == 0:
                        assert i == 0  # no VU → no iterations
                    else:
                        assert i >= v  # every VU of the segment gets work


def test_segment_shares_vus_per_executor():
    cfgs = [
        SharedIterationsConfig(name="si", vus=7, iterations=23),
        PerVUIterationsConfig(name="pvi", vus=5, iterations=3),
        ConstantVUsConfig(name="cv", vus=11, duration=S),
        RampingVUsConfig(name="rv", start_vus=2, stages=[Stage(S, 9), Stage(S, 0)]),
        ConstantArrivalRateConfig(name="car", rate=10, duration=S, pre_allocated_vus=4, max_vus_=9),
        RampingArrivalRateConfig(name="rar", stages=[Stage(S, 5)], pre_allocated_vus=6),
    ]
    for cfg in cfgs:
        for n in range(1, 8):
            shares = segment_shares(cfg, n)
            assert len(shares) == n
            if cfg.executor == "shared-iterations":
                assert sum(s.vus for s in shares) == 7
                assert sum(s.iterations for s in shares) == 23
            elif cfg.executor == "per-vu-iterations":
                assert sum(s.vus for s in shares) == 5
                assert all(s.iterations == 3 for s in shares)  # per VU, never scaled
            elif cfg.executor == "constant-vus":
                assert sum(s.vus for s in shares) == 11
            elif cfg.executor == "ramping-vus":
                assert sum(s.start_vus for s in shares) == 2
                assert sum(s.vus for s in shares) >= 9
            else:
                assert sum(s.max_vus for s in shares) == cfg.effective_max_vus
                assert sum(s.pre_allocated_vus for s in shares) == cfg.pre_allocated_vus


def test_arrival_rate_iterations_belong_to_exactly_one_segment():
    for rate, unit, dur, max_vus in [(20, S, S, 1), (7, 2 * S, 3 * S, 11), (100, S, 2 * S, 5),
                                     (13, S, 5 * S, 3)]:
        cfg = ConstantArrivalRateConfig(name="c", rate=rate, time_unit=unit, duration=dur,
                                        pre_allocated_vus=max_vus)
        full = list(constant_arrival_offsets(rate, unit, dur))
        for n in range(1, 7):
            parts = []
            for share in segment_shares(cfg, n):
                if share.iteration_tuple is None:
                    assert share.max_vus == 0
                    continue
                parts.append(list(constant_arrival_offsets(rate, unit, dur, share.iteration_tuple)))
            merged = sorted(itertools.chain.from_iterable(parts))
            assert merged == full            # union is everything ...
            assert len(merged) == len(set(merged))  # ... and nothing twice
        stages = [(S, rate), (2 * S, rate * 2), (S, 0)]
        rfull = list(ramping_arrival_offsets(1, unit, stages))
        rcfg = RampingArrivalRateConfig(name="r", start_rate=1, time_unit=unit,
                                        stages=[Stage(d, t) for d, t in stages],
                                        pre_allocated_vus=max_vus)
        for n in range(1, 7):
            parts = []
            for share in segment_shares(rcfg, n):
                if share.iteration_tuple is not None:
                    parts.append(list(ramping_arrival_offsets(1, unit, stages,
                                                              share.iteration_tuple)))
            assert sorted(itertools.chain.from_iterable(parts)) == rfull


# ---------------------------------------------------------------------------------------------
# ramping VUs
# ---------------------------------------------------------------------------------------------

def steps(*pairs):
    return [ExecutionStep(o, v) for o, v in pairs]


def test_ramping_vus_raw_steps_up_and_down():
    assert ramping_vus_raw_steps(1, [(S, 2), (S, 0)]) == steps(
        (0, 1), (S, 2), (1500 * MS, 1), (2 * S, 0))
    assert ramping_vus_raw_steps(0, [(4 * S, 4)]) == steps(
        (0, 0), (S, 1), (2 * S, 2), (3 * S, 3), (4 * S, 4))
    # integer division like Go: VU u starts at d*(u-from)/(to-from) (rounded via the end)
    assert ramping_vus_raw_steps(0, [(S, 3)]) == steps(
        (0, 0), (333333334, 1), (666666667, 2), (S, 3))
    # zero-duration stage jumps, equal-target stage holds
    assert ramping_vus_raw_steps(2, [(S, 2), (0, 5), (S, 5)]) == steps((0, 2), (S, 5))
    assert ramping_vus_raw_steps(3, [(S, 3)], zero_end=True) == steps((0, 3), (S, 0))


def test_ramping_vus_target_is_stepped_linear_interpolation():
    stages = [(10 * S, 10), (10 * S, 0)]
    for t in range(0, 21 * S, 250 * MS):
        if t <= 10 * S:
            expected = math.floor(t / S)
        else:
            expected = max(0, 10 - math.floor((t - 10 * S) / S))
        assert ramping_vus_target(0, stages, t) == expected, t


def test_graceful_ramp_down_reservation():
    # `-s 1s:2 -s 1s:0 -u 3` → banner "3 max VUs, 32s max duration" (observed)
    g = ramping_vus_graceful_steps(3, [(S, 2), (S, 0)], 30 * S, 30 * S)
    assert g == steps((0, 3), (31 * S, 2), (31500 * MS, 1), (32 * S, 0))
    assert max_planned_vus(g) == 3 and end_offset(g) == 32 * S
    # gracefulRampDown 0: the VUs go when the stages say so, ends at 2s
    g0 = ramping_vus_graceful_steps(1, [(S, 2), (S, 0)], 0, 30 * S)
    assert g0 == steps((0, 1), (S, 2), (1500 * MS, 1), (2 * S, 0))
    # last target > 0: ends at sum(stages) + gracefulStop
    g1 = ramping_vus_graceful_steps(0, [(S, 2)], 30 * S, 5 * S)
    assert g1[-1] == ExecutionStep(6 * S, 0)


def test_ramping_vus_segments_sum_to_global_count():
    stage_sets = [
        [(2 * S, 7), (3 * S, 2), (0, 5), (4 * S, 0)],
        [(10 * S, 10), (5 * S, 1)],
        [(S, 13), (S, 13), (2 * S, 4)],
    ]
    for stages in stage_sets:
        for start in (0, 1, 3):
            full = ramping_vus_raw_steps(start, stages)
            times = sorted({s.offset for s in full} | {s.offset + 1 for s in full})
            for n in range(1, 7):
                seg_steps = [ramping_vus_raw_steps(start, stages, et) for et in split_tuples(n)]
                for t in times:
                    assert sum(vus_at(ss, t) for ss in seg_steps) == vus_at(full, t)


# ---------------------------------------------------------------------------------------------
# arrival rates
# ---------------------------------------------------------------------------------------------

def test_constant_arrival_offsets_evenly_spaced():
    assert list(constant_arrival_offsets(20, S, S)) == [i * 50 * MS for i in range(20)]
    assert list(constant_arrival_offsets(3, 60 * S, S)) == [0]      # 0.05/s: one at t=0
    period = ticker_period(7, 2 * S)
    assert period == 285714285
    assert list(constant_arrival_offsets(7, 2 * S, 3 * S)) == [i * period for i in range(11)]
    assert ticker_period(0, S) == 0 and list(constant_arrival_offsets(0, S, S)) == []


def test_ramping_arrival_offsets_integrate_the_rate():
    # constant stage: 2/s for 5 s → 10 iterations at 0.5 s steps (first when area reaches 1)
    offs = list(ramping_arrival_offsets(2, S, [(5 * S, 2)]))
    assert len(offs) == 10
    for i, t in enumerate(offs, 1):
        assert abs(t - i * 500 * MS) <= 1
    # ramp 0 → 10/s over 1 s: area(t) = 5 t²  → iteration n starts at sqrt(n/5) s
    offs = list(ramping_arrival_offsets(0, S, [(S, 10)]))
    assert 4 <= len(offs) <= 5
    for n, t in enumerate(offs, 1):
        assert abs(t - math.sqrt(n / 5) * S) <= 2
    # continuing with a flat stage keeps the phase
    offs2 = list(ramping_arrival_offsets(0, S, [(S, 10), (S, 10)]))
    assert offs2[:4] == offs[:4]
    assert len(offs2) == 15 and abs(offs2[-1] - 2 * S) <= 2
    assert all(a <= b for a, b in zip(offs2, offs2[1:]))
    # timeUnit scales the rate: 60 per minute == 1 per second
    assert [round(t / MS) for t in ramping_arrival_offsets(60, 60 * S, [(3 * S, 60)])] == [1000, 2000, 3000]


# ---------------------------------------------------------------------------------------------
# plans
# ---------------------------------------------------------------------------------------------

def test_combine_plans():
    a = steps((0, 3), (32 * S, 0))
    b = steps((0, 5), (33 * S, 0))
    plan = combine_plans([(0, a), (2 * S, b)])
    assert plan == steps((0, 3), (2 * S, 8), (32 * S, 5), (35 * S, 0))
    assert max_possible_vus(plan) == 8 and end_offset(plan) == 35 * S
    arr = [ExecutionStep(0, 2, 8), ExecutionStep(31 * S, 0, 0)]
    assert max_possible_vus(combine_plans([(0, arr), (0, a)])) == 13
    assert max_planned_vus(combine_plans([(0, arr), (0, a)])) == 5
    assert full_tuple().scale(17) == 17
