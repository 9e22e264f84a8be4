"""The timer queue of one VU: pure logic, no threads, no clock of its own.

Times are milliseconds on the monotonic clock that both Python (``time.monotonic()``)
and QuickJS (``performance.timeOrigin + performance.now()``) read, so a timer can be
stamped in JS when ``setTimeout`` is called and compared here without conversion.

Ordering rules (timers.md §3): due-time order, equal due times first-in-first-out
(creation order), ids per VU from 1 and never reused. Intervals re-arm from their
*ideal* due time, so a 10 ms interval does not drift the way k6's does; when a callback
overruns by whole periods the missed runs are skipped instead of fired in a burst.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field


@dataclass(order=True)
class _Entry:
    due: float
    seq: int
    timer_id: int = field(compare=False)
    interval: float | None = field(compare=False, default=None)
    cancelled: bool = field(compare=False, default=False)


def normalise_delay(delay: object) -> float:
    """Turn a JS delay into milliseconds: NaN, ±Infinity, negatives and junk become 0.

    k6 lets NaN and Infinity jump the queue (a Go conversion quirk); the spec asks for the
    web-standard FIFO behaviour, which treating them as 0 gives.
    """
    try:
        value = float(delay)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 0.0
    if math.isnan(value) or math.isinf(value) or value < 0:
        return 0.0
    return value


class TimerQueue:
    """Pending timeouts and intervals of one VU, ordered for firing."""

    def __init__(self) -> None:
        self._heap: list[_Entry] = []
        self._live: dict[int, _Entry] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def add(self, timer_id: int, created_at: float, delay: float, repeat: bool) -> None:
        """Schedule ``timer_id`` to fire ``delay`` ms after ``created_at``."""
        delay = normalise_delay(delay)
        self._seq += 1
        entry = _Entry(created_at + delay, self._seq, timer_id, delay if repeat else None)
        self._live[timer_id] = entry
        heapq.heappush(self._heap, entry)

    def cancel(self, timer_id: object) -> None:
        """Forget a timer; unknown, fired or non-numeric ids are ignored like in k6."""
        if not isinstance(timer_id, (int, float)) or isinstance(timer_id, bool):
            return
        entry = self._live.pop(int(timer_id), None)
        if entry is not None:
            entry.cancelled = True

    def next_due(self) -> float | None:
        """Due time of the earliest live timer, or ``None`` when nothing is pending."""
        self._drop_cancelled()
        return self._heap[0].due if self._heap else None

    def pop_due(self, now: float) -> int | None:
        """Take the earliest timer due at ``now`` and return its id (re-arming intervals)."""
        self._drop_cancelled()
        if not self._heap or self._heap[0].due > now:
            return None
        entry = heapq.heappop(self._heap)
        if entry.interval is None:
            del self._live[entry.timer_id]
            return entry.timer_id
        period = entry.interval
        due = entry.due + period
        if period > 0 and due <= now - period:
            # The callback (or a sleep) overran whole periods: skip them, keep the phase.
            due = entry.due + period * math.ceil((now - entry.due) / period)
        self._seq += 1
        rearmed = _Entry(due, self._seq, entry.timer_id, period)
        self._live[entry.timer_id] = rearmed
        heapq.heappush(self._heap, rearmed)
        return entry.timer_id

    def is_interval(self, timer_id: int) -> bool:
        entry = self._live.get(timer_id)
        return entry is not None and entry.interval is not None

    def drain(self) -> list[tuple[int, bool]]:
        """Remove every live timer; return ``(id, is_interval)`` in due-time order.

        Used when an iteration ends early: k6 logs one warning per dropped timer, in
        due-time order.
        """
        live = sorted(self._live.values())
        self._heap.clear()
        self._live.clear()
        return [(e.timer_id, e.interval is not None) for e in live]

    def _drop_cancelled(self) -> None:
        heap = self._heap
        while heap and (heap[0].cancelled or self._live.get(heap[0].timer_id) is not heap[0]):
            heapq.heappop(heap)
