"""Aggregation sinks for the four metric types (runtime.md §9 "sink semantics").

The engine feeds millions of samples, so ``add`` does the least possible work: a Trend
``add`` is a bare ``array.append`` (8 bytes per value); its sum/min/max are folded in
lazily, in arrival order, when someone asks for them, and the values are sorted only
when a percentile is needed. Every sink is mergeable and has a compact JSON-able
snapshot, so per-worker aggregates of a multi-process run can be combined exactly
(counts exact, trend values concatenated).
"""

from __future__ import annotations

import base64
import functools
import math
import operator
import sys
from array import array
from typing import Any, Union

from jsrunner.metrics.registry import MetricType

__all__ = ["CounterSink", "GaugeSink", "RateSink", "TrendSink", "Sink", "new_sink",
           "sink_from_snapshot"]


class CounterSink:
    """Sum of values; ``rate`` = sum per second of test run duration."""

    __slots__ = ("count", "n")
    type = MetricType.COUNTER

    def __init__(self) -> None:
        self.count: float = 0.0
        self.n: int = 0  # number of samples, only to know whether the sink is empty

    def add(self, value: float, time_ns: int = 0, tags: object = None) -> None:
        self.count += value
        self.n += 1

    def add_many(self, values: list[float], time_ns: int = 0, tags: object = None) -> None:
        """``add`` of each value in order (left-to-right sum, as k6 adds them)."""
        self.count = functools.reduce(operator.add, values, self.count)
        self.n += len(values)

    @property
    def empty(self) -> bool:
        return self.n == 0

    def rate(self, duration_ms: float) -> float:
        """count / duration in seconds (0 when the duration is 0, like k6's summary)."""
        return self.count / (duration_ms / 1000.0) if duration_ms > 0 else 0.0

    def merge(self, other: "CounterSink") -> None:
        self.count += other.count
        self.n += other.n

    def snapshot(self) -> dict[str, Any]:
        return {"type": "counter", "count": self.count, "n": self.n}

    @classmethod
    def from_snapshot(cls, snap: dict[str, Any]) -> "CounterSink":
        s = cls()
        s.count = float(snap["count"])
        s.n = int(snap["n"])
        return s


class GaugeSink:
    """Last value, min and max.

    k6 bug-compatibility (decided once, here): k6's ``max`` starts at 0, so an
    all-negative gauge reports ``max=0`` (observed: -5, -3 → ``value=-3 min=-5 max=0``).
    We reproduce that, because jsrunner's goal is k6's output byte for byte; ``min``
    is a true minimum in k6 and here. ``bug_compat_max=False`` gives the true maximum.
    """

    __slots__ = ("value", "min", "max", "n", "time_ns")
    type = MetricType.GAUGE
    bug_compat_max = True

    def __init__(self) -> None:
        self.value: float = 0.0
        self.min: float = 0.0
        self.max: float = 0.0
        self.n: int = 0
        self.time_ns: int = 0  # time of the last value, to merge "last" across workers

    def add(self, value: float, time_ns: int = 0, tags: object = None) -> None:
        self.value = value
        self.time_ns = time_ns
        if self.n == 0:
            self.min = value
            if not self.bug_compat_max:
                self.max = value
        elif value < self.min:
            self.min = value
        if value > self.max:
            self.max = value
        self.n += 1

    def add_many(self, values: list[float], time_ns: int = 0, tags: object = None) -> None:
        """``add`` of each value in order; ``time_ns`` is the last one's time."""
        lo = float(min(values))
        hi = float(max(values))
        if self.n == 0:
            self.min = lo
            if not self.bug_compat_max:
                self.max = hi
        elif lo < self.min:
            self.min = lo
        if hi > self.max:
            self.max = hi
        self.value = float(values[-1])
        self.time_ns = time_ns
        self.n += len(values)

    @property
    def empty(self) -> bool:
        return self.n == 0

    def merge(self, other: "GaugeSink") -> None:
        if other.n == 0:
            return
        if self.n == 0:
            self.value, self.min, self.max = other.value, other.min, other.max
            self.time_ns, self.n = other.time_ns, other.n
            return
        if other.time_ns >= self.time_ns:
            self.value, self.time_ns = other.value, other.time_ns
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        self.n += other.n

    def snapshot(self) -> dict[str, Any]:
        return {"type": "gauge", "value": self.value, "min": self.min, "max": self.max,
                "n": self.n, "time_ns": self.time_ns}

    @classmethod
    def from_snapshot(cls, snap: dict[str, Any]) -> "GaugeSink":
        s = cls()
        s.value, s.min, s.max = float(snap["value"]), float(snap["min"]), float(snap["max"])
        s.n, s.time_ns = int(snap["n"]), int(snap["time_ns"])
        return s


class RateSink:
    """Share of non-zero values: ``passes`` / ``total``."""

    __slots__ = ("passes", "total")
    type = MetricType.RATE

    def __init__(self) -> None:
        self.passes: int = 0
        self.total: int = 0

    def add(self, value: float, time_ns: int = 0, tags: object = None) -> None:
        if value:
            self.passes += 1
        self.total += 1

    def add_many(self, values: list[float], time_ns: int = 0, tags: object = None) -> None:
        n = len(values)
        self.passes += n - values.count(0)
        self.total += n

    @property
    def n(self) -> int:
        return self.total

    @property
    def empty(self) -> bool:
        return self.total == 0

    @property
    def fails(self) -> int:
        return self.total - self.passes

    @property
    def rate(self) -> float:
        """passes/total; 0 with no samples (the summary shows ``0.00%``)."""
        return self.passes / self.total if self.total else 0.0

    def merge(self, other: "RateSink") -> None:
        self.passes += other.passes
        self.total += other.total

    def snapshot(self) -> dict[str, Any]:
        return {"type": "rate", "passes": self.passes, "total": self.total}

    @classmethod
    def from_snapshot(cls, snap: dict[str, Any]) -> "RateSink":
        s = cls()
        s.passes, s.total = int(snap["passes"]), int(snap["total"])
        return s


_LITTLE = sys.byteorder == "little"


class TrendSink:
    """All values in an ``array('d')``; stats computed on demand.

    ``values`` only ever grows by ``append`` (the engine binds ``values.append``
    directly) except when sorted *in place* for percentiles, so the bound method stays
    valid. Invariants: ``values[:_folded]`` is included in ``_sum/_min/_max``; the tail
    beyond ``_folded`` is in arrival order, so folding it with plain left-to-right
    additions gives exactly k6's running sum (also on Python ≥ 3.12, whose ``sum``
    uses compensated summation). Sorting needs a transient list of Python floats
    (~32 bytes per value) — the only moment the 8 bytes/value bound is exceeded.
    """

    __slots__ = ("values", "_folded", "_sum", "_min", "_max", "_sorted_n")
    type = MetricType.TREND

    def __init__(self) -> None:
        self.values: array = array("d")
        self._folded = 0
        self._sum = 0.0
        self._min = 0.0
        self._max = 0.0
        self._sorted_n = 0  # values[:_sorted_n] sorted and nothing appended since

    def add(self, value: float, time_ns: int = 0, tags: object = None) -> None:
        self.values.append(value)

    def add_many(self, values: list[float], time_ns: int = 0, tags: object = None) -> None:
        self.values.fromlist(values)

    def _fold(self) -> None:
        n = len(self.values)
        if self._folded == n:
            return
        tail = self.values[self._folded:]
        if self._folded == 0:
            self._min, self._max = min(tail), max(tail)
        else:
            self._min = min(self._min, min(tail))
            self._max = max(self._max, max(tail))
        self._sum = functools.reduce(operator.add, tail, self._sum)
        self._folded = n

    def _sort(self) -> None:
        n = len(self.values)
        if self._sorted_n == n:
            return
        self._fold()
        # Timsort exploits the already sorted prefix; slice assignment keeps identity.
        self.values[:] = array("d", sorted(self.values))
        self._sorted_n = n

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def empty(self) -> bool:
        return not self.values

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def sum(self) -> float:
        self._fold()
        return self._sum

    @property
    def min(self) -> float:
        if not self.values:
            return 0.0
        self._fold()
        return self._min

    @property
    def max(self) -> float:
        if not self.values:
            return 0.0
        self._fold()
        return self._max

    @property
    def avg(self) -> float:
        n = len(self.values)
        return self.sum / n if n else 0.0

    @property
    def med(self) -> float:
        return self.percentile(0.5)

    def percentile(self, pct: float) -> float:
        """k6's ``P(pct)`` (pct in 0..1, clamped) with linear interpolation; 0 if empty."""
        n = len(self.values)
        if n == 0:
            return 0.0
        if n == 1:
            return self.values[0]
        if not pct >= 0.0:  # also catches NaN
            pct = 0.0
        elif pct > 1.0:
            pct = 1.0
        self._sort()
        v = self.values
        i = pct * (n - 1.0)
        lo = math.floor(i)
        hi = math.ceil(i)
        j = v[lo]
        return j + (v[hi] - j) * (i - lo)

    def stat(self, name: str) -> float:
        """A ``--summary-trend-stats`` column: avg/min/med/max/count or ``p(N)``."""
        if name == "avg":
            return self.avg
        if name == "min":
            return self.min
        if name == "max":
            return self.max
        if name == "med":
            return self.med
        if name == "count":
            return float(self.count)
        if name.startswith("p(") and name.endswith(")"):
            return self.percentile(float(name[2:-1]) / 100.0)
        raise KeyError(name)

    def merge(self, other: "TrendSink") -> None:
        if not other.values:
            return
        self._fold()
        other_sum, other_min, other_max = other.sum, other.min, other.max
        had = bool(self.values)
        self.values.extend(other.values)
        self._sum += other_sum
        self._min = min(self._min, other_min) if had else other_min
        self._max = max(self._max, other_max) if had else other_max
        self._folded = len(self.values)
        self._sorted_n = 0

    def snapshot(self) -> dict[str, Any]:
        """Values as base64 of little-endian doubles (~10.7 bytes per value in JSON)."""
        self._fold()
        vals = self.values
        if not _LITTLE:
            vals = array("d", vals)
            vals.byteswap()
        return {"type": "trend", "values": base64.b64encode(vals.tobytes()).decode("ascii"),
                "sum": self._sum, "min": self._min, "max": self._max}

    @classmethod
    def from_snapshot(cls, snap: dict[str, Any]) -> "TrendSink":
        s = cls()
        s.values.frombytes(base64.b64decode(snap["values"]))
        if not _LITTLE:
            s.values.byteswap()
        s._folded = len(s.values)
        s._sum, s._min, s._max = float(snap["sum"]), float(snap["min"]), float(snap["max"])
        return s


Sink = Union[CounterSink, GaugeSink, RateSink, TrendSink]

_SINK_CLASSES: dict[str, type] = {
    "counter": CounterSink, "gauge": GaugeSink, "rate": RateSink, "trend": TrendSink,
}


def new_sink(mtype: MetricType | str) -> Sink:
    """A fresh sink for a metric type."""
    return _SINK_CLASSES[MetricType(mtype).value]()


def sink_from_snapshot(snap: dict[str, Any]) -> Sink:
    """Rebuild any sink from its ``snapshot()``."""
    return _SINK_CLASSES[snap["type"]].from_snapshot(snap)
