"""Pure timing math for the executors (no threads, no clocks).  All times are int nanoseconds.

Contents
--------
* **Execution segments** (k6 ``lib/execution_segment.go`` semantics, own implementation):
  :class:`ExecutionSegment` (``"0:1/2"``), :class:`SegmentSequence` (``"0,1/3,2/3,1"``) and
  :class:`ExecutionTuple` (a sequence + the index of "our" segment).
* **Ramping VUs**: k6's execution steps (``(offset, vus)`` change points), the graceful
  ramp-down reservation, and :func:`vus_at`.
* **Arrival rates**: iteration start offsets as generators.
* **Execution plans**: combining per-scenario steps into the test's plan (max VUs / end offset).
* :func:`segment_shares`: per-executor share of every one of N equal segments.

Striping algorithm (how a sequence divides integer things exactly)
-------------------------------------------------------------------
Let the segment lengths be fractions ``l_k`` (summing to 1) and ``L`` the least common
denominator, so ``l_k = n_k / L``.  The indices ``0..L-1`` of one "stripe" are dealt out:
segments are visited biggest-first (stable), and index ``i`` goes to the first segment whose
already-taken count ``c`` satisfies ``i >= c*L/n_k`` (i.e. it is "due" another element; ties
count as due).  Each segment ends up with exactly ``n_k`` indices per stripe, spread as evenly
as possible, and the pattern repeats every ``L`` indices.  Global index ``g`` (a VU number - 1,
an iteration number, ...) belongs to the owner of ``g % L``.  Hence for any integer ``value``,
``scale(k, value)`` = number of indices ``< value`` owned by ``k``, and the shares of all
segments add up to ``value`` exactly.  For N equal segments this degenerates to round-robin
(``g`` belongs to segment ``g % N``).

As in k6, iteration-type quantities are striped *relative to the VUs*: shared iterations use a
sequence derived from the VU count (each segment's share of VUs becomes a new segment of
length ``share/vus``), arrival-rate iterations one derived from ``maxVUs``.  A segment without
any VU therefore gets no iterations, and every global arrival-rate iteration index belongs to
exactly one segment.
"""

from __future__ import annotations

import bisect
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterable, Iterator, Sequence

__all__ = [
    "SegmentError", "ExecutionSegment", "SegmentSequence", "ExecutionTuple",
    "full_tuple", "split_tuples", "tuple_from_options",
    "ExecutionStep", "ramping_vus_raw_steps", "ramping_vus_graceful_steps",
    "ramping_vus_requirements", "vus_at", "ramping_vus_target",
    "ticker_period", "constant_arrival_offsets", "ramping_arrival_offsets",
    "combine_plans", "max_planned_vus", "max_possible_vus", "end_offset",
    "shared_iterations_share", "SegmentShare", "segment_shares",
]


# ---------------------------------------------------------------------------------------------
# Execution segments
# ---------------------------------------------------------------------------------------------

class SegmentError(ValueError):
    """Invalid execution segment / sequence text (message as in k6)."""


def _rat_string(r: Fraction) -> str:
    return str(r.numerator) if r.denominator == 1 else f"{r.numerator}/{r.denominator}"


def _float_string2(r: Fraction) -> str:
    return f"{float(r):.2f}"


_DECIMAL_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\Z")
_FRACTION_RE = re.compile(r"[+-]?\d+/\d+\Z")


def _string_to_rat(s: str) -> Fraction:
    if s.endswith("%"):
        num = s[:-1]
        if not re.fullmatch(r"[+-]?\d+", num):
            raise SegmentError(f"'{s}' is not a valid percentage")
        return Fraction(int(num), 100)
    if _FRACTION_RE.match(s) or _DECIMAL_RE.match(s):
        try:
            return Fraction(s)
        except (ValueError, ZeroDivisionError):
            pass
    raise SegmentError(f"'{s}' is not a valid percentage, decimal, fraction or interval value")


@dataclass(frozen=True)
class ExecutionSegment:
    """The ``(start, end]`` part of the whole work, ``0 <= start < end <= 1``."""

    start: Fraction = Fraction(0)
    end: Fraction = Fraction(1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", Fraction(self.start))
        object.__setattr__(self, "end", Fraction(self.end))
        if self.start < 0:
            raise SegmentError(
                f"segment start value should be at least 0 but was {_float_string2(self.start)}")
        if self.start >= self.end:
            raise SegmentError(f"segment start({_float_string2(self.start)}) should be less "
                               f"than its end({_float_string2(self.end)})")
        if self.end > 1:
            raise SegmentError(
                f"segment end value shouldn't be more than 1 but was {_float_string2(self.end)}")

    @property
    def length(self) -> Fraction:
        return self.end - self.start

    @classmethod
    def parse(cls, text: str | None) -> "ExecutionSegment":
        """``"1/2:3/4"``, ``"50%:75%"``, ``"0.5:0.75"``; a single value ``"1/3"`` = ``0:1/3``;
        empty = the whole ``0:1``."""
        text = text or "1"
        start = Fraction(0)
        if ":" in text:
            a, text = text.split(":", 1)
            start = _string_to_rat(a)
        return cls(start, _string_to_rat(text))

    def __str__(self) -> str:
        return f"{_rat_string(self.start)}:{_rat_string(self.end)}"

    def split(self, parts: int) -> list["ExecutionSegment"]:
        if parts < 1:
            raise SegmentError(f"the number of parts should be at least 1, {parts} received")
        step = self.length / parts
        return [ExecutionSegment(self.start + step * i, self.start + step * (i + 1))
                for i in range(parts)]


class SegmentSequence:
    """A gap-free chain of segments covering ``0..1`` plus the cached striping."""

    def __init__(self, segments: Sequence[ExecutionSegment]):
        segs = list(segments) or [ExecutionSegment()]
        for i in range(1, len(segs)):
            if segs[i].start != segs[i - 1].end:
                raise SegmentError(
                    f"the start value {_rat_string(segs[i].start)} of segment #{i} must be "
                    f"equal to the end value of the previous one, but it is "
                    f"{_rat_string(segs[i - 1].end)}")
        if segs[0].start != 0:
            segs.insert(0, ExecutionSegment(Fraction(0), segs[0].start))
        if segs[-1].end != 1:
            segs.append(ExecutionSegment(segs[-1].end, Fraction(1)))
        self.segments: list[ExecutionSegment] = segs
        lcd = 1
        for s in segs:
            lcd = lcd * s.length.denominator // math.gcd(lcd, s.length.denominator)
        self.lcd = lcd
        norm = [s.length.numerator * (lcd // s.length.denominator) for s in segs]
        order = sorted(range(len(segs)), key=lambda k: -norm[k])  # stable, biggest first
        chosen = [0] * len(segs)
        owned: list[list[int]] = [[] for _ in segs]
        for i in range(lcd):
            for pos, k in enumerate(order):
                num = chosen[pos] * lcd
                q, r = divmod(num, norm[k])
                if i > q or (i == q and r == 0):
                    chosen[pos] += 1
                    owned[k].append(i)
                    break
        self._owned = owned
        self._owned_sets = [frozenset(o) for o in owned]

    @classmethod
    def parse(cls, text: str | None) -> "SegmentSequence":
        """``"0,1/3,2/3,1"`` → three segments; empty → the single full segment."""
        if not text:
            return cls([])
        points = text.split(",")
        if len(points) < 2:
            raise SegmentError("at least 2 points are needed for an execution segment "
                               f"sequence, {len(points)} given")
        rats = [_string_to_rat(p) for p in points]
        return cls([ExecutionSegment(rats[i], rats[i + 1]) for i in range(len(rats) - 1)])

    @classmethod
    def equal(cls, parts: int) -> "SegmentSequence":
        return cls(ExecutionSegment().split(parts))

    def __len__(self) -> int:
        return len(self.segments)

    def __str__(self) -> str:
        return ",".join([_rat_string(self.segments[0].start)]
                        + [_rat_string(s.end) for s in self.segments])

    def index_of(self, segment: ExecutionSegment | None) -> int:
        seg = segment or ExecutionSegment()
        for i, s in enumerate(self.segments):
            if s == seg:
                return i
        raise SegmentError(f"couldn't find segment {seg} in sequence {self}")

    def owned_in_stripe(self, index: int) -> list[int]:
        """The indices ``0..lcd-1`` of one stripe that belong to segment ``index``."""
        return list(self._owned[index])

    def owner(self, global_index: int) -> int:
        """Which segment owns global index ``g`` (0-based)."""
        r = global_index % self.lcd
        for k, s in enumerate(self._owned_sets):
            if r in s:
                return k
        raise AssertionError("striping left an index unassigned")  # pragma: no cover

    def scale(self, index: int, value: int) -> int:
        """Segment ``index``'s share of ``value`` (all shares sum to ``value``)."""
        if value <= 0:
            return 0
        full, rem = divmod(value, self.lcd)
        owned = self._owned[index]
        return full * len(owned) + bisect.bisect_left(owned, rem)

    def derive(self, value: int) -> tuple["SegmentSequence", list[int | None]]:
        """k6's ``GetNewExecutionSegmentSequenceFromValue``: a new sequence whose segments have
        length ``share/value``; segments with a zero share disappear.  Returns the sequence and
        the old-index → new-index map (None for dropped segments)."""
        if value < 1:
            raise SegmentError(f"cannot generate new sequence for value {value}")
        if value % self.lcd == 0:
            return self, list(range(len(self.segments)))
        new: list[ExecutionSegment] = []
        mapping: list[int | None] = []
        prev = 0
        for i in range(len(self.segments)):
            share = self.scale(i, value)
            if share == 0:
                mapping.append(None)
                continue
            mapping.append(len(new))
            new.append(ExecutionSegment(Fraction(prev, value), Fraction(prev + share, value)))
            prev += share
        return SegmentSequence(new), mapping


class ExecutionTuple:
    """A sequence plus the index of the segment this instance runs."""

    def __init__(self, sequence: SegmentSequence, index: int = 0):
        self.sequence = sequence
        self.index = index

    @property
    def segment(self) -> ExecutionSegment:
        return self.sequence.segments[self.index]

    def scale(self, value: int) -> int:
        return self.sequence.scale(self.index, value)

    def derive(self, value: int) -> "ExecutionTuple | None":
        """The tuple striped relative to ``value`` (e.g. VUs); None if we get none of it."""
        if value < 1:
            return None
        seq, mapping = self.sequence.derive(value)
        new_index = mapping[self.index]
        return None if new_index is None else ExecutionTuple(seq, new_index)

    def owns(self, global_index: int) -> bool:
        return self.sequence.owner(global_index) == self.index

    def owned_indices(self, start: int = 0) -> Iterator[int]:
        """The global indices (0-based, ascending, endless) owned by this segment."""
        lcd = self.sequence.lcd
        owned = self.sequence.owned_in_stripe(self.index)
        if not owned:
            return
        base = (start // lcd) * lcd
        while True:
            for r in owned:
                g = base + r
                if g >= start:
                    yield g
            base += lcd

    def __repr__(self) -> str:
        return f"ExecutionTuple({self.sequence}, {self.index})"


def full_tuple() -> ExecutionTuple:
    """The whole test (segment ``0:1``)."""
    return ExecutionTuple(SegmentSequence([]), 0)


def split_tuples(parts: int) -> list[ExecutionTuple]:
    """N equal segments, one tuple per worker process."""
    seq = SegmentSequence.equal(parts)
    return [ExecutionTuple(seq, i) for i in range(parts)]


def tuple_from_options(segment: str | None, sequence: str | None) -> ExecutionTuple:
    """``executionSegment`` / ``executionSegmentSequence`` option values → tuple."""
    seg = ExecutionSegment.parse(segment) if segment else None
    if sequence:
        seq = SegmentSequence.parse(sequence)
    else:
        seq = SegmentSequence([seg] if seg else [])
    return ExecutionTuple(seq, seq.index_of(seg))


# ---------------------------------------------------------------------------------------------
# Execution steps / ramping VUs
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExecutionStep:
    """From ``offset`` on, ``planned`` VUs are needed (+ up to ``unplanned`` more)."""

    offset: int
    planned: int
    unplanned: int = 0


def _go_div(a: int, b: int) -> int:
    """Go integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _full_raw_steps(start_vus: int, stages: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """k6's getRawExecutionSteps for the whole test: one step per VU change."""
    steps: list[tuple[int, int]] = [(0, start_vus)]

    def add(t: int, v: int) -> None:
        if steps[-1][1] != v:
            steps.append((t, v))

    time_till_end = 0
    from_vus = start_vus
    unscaled = start_vus
    for dur, end in stages:
        time_till_end += dur
        diff = end - from_vus
        if diff == 0:
            continue
        if dur == 0:
            unscaled = end
            add(time_till_end, end)
            from_vus = end
            continue
        if unscaled > end:  # ramp down
            while unscaled > end:
                add(time_till_end - _go_div(dur * (end - unscaled + 1), diff), unscaled - 1)
                unscaled -= 1
        else:
            while unscaled <= end:
                add(time_till_end - _go_div(dur * (end - unscaled), diff), unscaled)
                unscaled += 1
        from_vus = end
    return steps


def ramping_vus_raw_steps(start_vus: int, stages: Sequence[tuple[int, int]],
                          et: ExecutionTuple | None = None,
                          zero_end: bool = False) -> list[ExecutionStep]:
    """The (offset, VUs) change points of a ramping-vus executor (without graceful ramp-down).

    ``stages`` are ``(duration_ns, target)`` pairs.  The count moves one VU at a time: while
    ramping from ``a`` to ``b`` over ``d``, VU number ``u`` starts at ``d*(u-a)/(b-a)`` after
    the stage start (integer division, as k6); when ramping down, VU ``u`` leaves at
    ``d*(a-u+1)/(a-b)``.  With ``et`` the global counts are mapped through the segment's
    striped share (so the segments' counts always add up to the global count).
    """
    full = _full_raw_steps(start_vus, stages)
    out: list[ExecutionStep] = []
    for t, v in full:
        sv = et.scale(v) if et is not None else v
        if not out:
            out.append(ExecutionStep(0, sv))
        elif out[-1].planned != sv:
            out.append(ExecutionStep(t, sv))
    if zero_end and out[-1].planned != 0:
        out.append(ExecutionStep(sum(d for d, _ in stages), 0))
    return out


def _reserve_for_graceful_ramp_downs(raw: list[ExecutionStep], graceful_ramp_down: int,
                                     end_offset: int) -> list[ExecutionStep]:
    """k6's reserveVUsForGracefulRampDowns: keep VUs reserved while they may finish."""
    new: list[ExecutionStep] = []
    last_planned = 0
    last_down = 0
    n = len(raw)
    i = 0
    while i < n:
        step = raw[i]
        if i == 0 or step.planned > last_planned:
            new.append(step)
            last_planned = step.planned
            i += 1
            continue
        if step.planned == last_planned:
            i += 1
            continue
        skipped = False
        timeout_at = step.offset + graceful_ramp_down
        adv_start = max(i + 1, last_down)
        ramping_down = True
        for j in range(adv_start, n):
            adv = raw[j]
            if adv.offset > timeout_at:
                break
            if adv.planned >= last_planned:
                i = j - 1
                skipped = True
                break
            if ramping_down:
                if raw[j - 1].planned > adv.planned:
                    last_down = j
                else:
                    ramping_down = False
        if skipped:
            i += 1
            continue
        if timeout_at >= end_offset:
            break
        new.append(ExecutionStep(timeout_at, step.planned))
        last_planned = step.planned
        i += 1
    return new


def ramping_vus_graceful_steps(start_vus: int, stages: Sequence[tuple[int, int]],
                               graceful_ramp_down: int, graceful_stop: int,
                               et: ExecutionTuple | None = None) -> list[ExecutionStep]:
    """k6's GetExecutionRequirements for ramping-vus: the VUs that must stay allocated
    (ramped-down VUs are kept for ``gracefulRampDown``), ending with 0 VUs at
    ``sum(stages) + gracefulStop`` at the latest."""
    steps = ramping_vus_raw_steps(start_vus, stages, et)
    end = sum(d for d, _ in stages) + graceful_stop
    if graceful_ramp_down > 0:
        steps = _reserve_for_graceful_ramp_downs(steps, graceful_ramp_down, end)
    if steps[-1].planned != 0:
        steps.append(ExecutionStep(end, 0))
    return steps


ramping_vus_requirements = ramping_vus_graceful_steps


def vus_at(steps: Sequence[ExecutionStep], t: int) -> int:
    """The planned VU count at offset ``t`` (value of the last step with offset <= t)."""
    value = 0
    for s in steps:
        if s.offset > t:
            break
        value = s.planned
    return value


def ramping_vus_target(start_vus: int, stages: Sequence[tuple[int, int]], t: int,
                       et: ExecutionTuple | None = None) -> int:
    """Target VU count at offset ``t`` (the linearly interpolated count, stepped like k6);
    0 after the last stage if it ended at 0, else the last target."""
    return vus_at(ramping_vus_raw_steps(start_vus, stages, et), t)


# ---------------------------------------------------------------------------------------------
# Arrival rates
# ---------------------------------------------------------------------------------------------

def ticker_period(rate: int, time_unit: int) -> int:
    """ns between iteration starts for ``rate`` per ``time_unit`` (k6: Duration(float64(1/r)))."""
    if rate <= 0 or time_unit <= 0:
        return 0
    return int(float(Fraction(time_unit, rate)))


def constant_arrival_offsets(rate: int, time_unit: int, duration: int,
                             et: ExecutionTuple | None = None) -> Iterator[int]:
    """Start offsets (ns from the scenario start) of a constant-arrival-rate executor.

    Global iteration ``i`` starts at ``i * period`` with ``period = timeUnit/rate``
    (truncated to whole ns); the first one at 0, the last one strictly before ``duration``.
    With ``et`` only the iterations whose global index the segment owns are produced.
    """
    period = ticker_period(rate, time_unit)
    if period <= 0:
        return
    indices: Iterable[int] = et.owned_indices() if et is not None else _count()
    for gi in indices:
        t = period * gi
        if t >= duration:
            return
        yield t


def _count() -> Iterator[int]:
    i = 0
    while True:
        yield i
        i += 1


def ramping_arrival_offsets(start_rate: int, time_unit: int,
                            stages: Sequence[tuple[int, int]],
                            et: ExecutionTuple | None = None) -> Iterator[int]:
    """Start offsets of a ramping-arrival-rate executor (k6's ``cal``).

    The rate is linearly interpolated between stage targets (per ``time_unit``); iteration
    ``n`` (0-based) starts when the integral of the rate since the start reaches ``n + 1``.
    With ``et`` only the owned global iteration indices are produced.
    """
    if time_unit <= 0:
        return
    indices = et.owned_indices() if et is not None else _count()
    unit = float(time_unit)
    frm = float(start_rate) / unit
    done_so_far = 0.0
    end_count = 0.0
    stage_start = 0
    try:
        gi = next(indices)
    except StopIteration:
        return
    i = float(gi + 1)
    for dur_ns, target in stages:
        to = float(target) / unit
        dur = float(dur_ns)
        if frm != to:
            end_count += dur * ((to - frm) / 2 + frm)
            while i <= end_count:
                inner = dur * (frm * frm * dur + 2 * (i - done_so_far) * (to - frm))
                root = math.sqrt(inner) if not math.copysign(1.0, inner) < 0 else 0.0
                x = (frm * dur - root) / (frm - to)
                yield int(x) + stage_start
                gi = next(indices)
                i = float(gi + 1)
        else:
            end_count += dur * to
            while i <= end_count:
                yield int((i - done_so_far) / to) + stage_start
                gi = next(indices)
                i = float(gi + 1)
        done_so_far = end_count
        frm = to
        stage_start += dur_ns


# ---------------------------------------------------------------------------------------------
# Execution plans
# ---------------------------------------------------------------------------------------------

def combine_plans(plans: Sequence[tuple[int, Sequence[ExecutionStep]]]) -> list[ExecutionStep]:
    """k6's GetFullExecutionRequirements: ``plans`` are ``(startTime, steps)`` per scenario
    (in banner order); steps are shifted by the start time and summed over scenarios."""
    tracked = []
    for cid, (start, steps) in enumerate(plans):
        for seq, s in enumerate(steps):
            tracked.append((s.offset + start, cid, seq, s))
    tracked.sort(key=lambda x: (x[0], x[1], x[2]))
    planned = [0] * len(plans)
    unplanned = [0] * len(plans)
    result: list[ExecutionStep] = []
    current = 0

    def add_if_different() -> None:
        p, u = sum(planned), sum(unplanned)
        if not result or result[-1].planned != p or result[-1].unplanned != u:
            result.append(ExecutionStep(current, p, u))

    for offset, cid, _, s in tracked:
        if offset != current:
            add_if_different()
            current = offset
        planned[cid] = s.planned
        unplanned[cid] = s.unplanned
    add_if_different()
    return result


def max_planned_vus(steps: Iterable[ExecutionStep]) -> int:
    return max((s.planned for s in steps), default=0)


def max_possible_vus(steps: Iterable[ExecutionStep]) -> int:
    """Max of planned + unplanned VUs over the plan (the banner's "max VUs")."""
    return max((s.planned + s.unplanned for s in steps), default=0)


def end_offset(steps: Sequence[ExecutionStep]) -> int:
    """Offset of the last step (the "max duration (incl. graceful stop)")."""
    return steps[-1].offset if steps else 0


# ---------------------------------------------------------------------------------------------
# Per-segment shares
# ---------------------------------------------------------------------------------------------

def shared_iterations_share(vus: int, iterations: int,
                            et: ExecutionTuple | None) -> tuple[int, int]:
    """(VUs, iterations) of a shared-iterations executor on this segment; iterations are
    striped relative to the VUs, as k6 does."""
    if et is None:
        return vus, iterations
    sub = et.derive(vus)
    return et.scale(vus), (sub.scale(iterations) if sub is not None else 0)


@dataclass(frozen=True)
class SegmentShare:
    """One segment's part of one scenario."""

    index: int
    tuple: ExecutionTuple
    vus: int = 0               # VUs (shared/per-vu/constant), max VUs for ramping-vus
    iterations: int = 0        # shared: iterations of this segment; per-vu: per VU
    start_vus: int = 0         # ramping-vus
    pre_allocated_vus: int = 0
    max_vus: int = 0
    #: tuple striped relative to maxVUs (arrival rates) - use for the iteration offsets
    iteration_tuple: ExecutionTuple | None = None


def segment_shares(cfg: object, parts: int) -> list[SegmentShare]:
    """Split a scenario config (see jsrunner.scenarios) over ``parts`` equal segments."""
    executor = getattr(cfg, "executor")
    shares = []
    for et in split_tuples(parts):
        kw: dict = {}
        if executor == "shared-iterations":
            v, it = shared_iterations_share(cfg.vus, cfg.iterations, et)  # type: ignore[attr-defined]
            kw = {"vus": v, "iterations": it}
        elif executor == "per-vu-iterations":
            kw = {"vus": et.scale(cfg.vus), "iterations": cfg.iterations}  # type: ignore[attr-defined]
        elif executor == "constant-vus":
            kw = {"vus": et.scale(cfg.vus)}  # type: ignore[attr-defined]
        elif executor == "ramping-vus":
            stages = [(s.duration or 0, s.target or 0) for s in cfg.stages]  # type: ignore[attr-defined]
            steps = ramping_vus_raw_steps(cfg.start_vus, stages, et)  # type: ignore[attr-defined]
            kw = {"vus": max_planned_vus(steps), "start_vus": et.scale(cfg.start_vus)}  # type: ignore[attr-defined]
        elif executor in ("constant-arrival-rate", "ramping-arrival-rate"):
            max_vus = cfg.effective_max_vus  # type: ignore[attr-defined]
            kw = {"pre_allocated_vus": et.scale(cfg.pre_allocated_vus or 0),  # type: ignore[attr-defined]
                  "max_vus": et.scale(max_vus), "iteration_tuple": et.derive(max_vus)}
            kw["vus"] = kw["max_vus"]
        shares.append(SegmentShare(index=et.index, tuple=et, **kw))
    return shares
