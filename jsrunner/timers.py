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
    """Pending timeouts and intervals of one VU, ordered for firing.

    Heap entries are plain ``(due, seq, id)`` tuples (tuple comparison is what makes a
    timer hop cheap); ``_live`` maps an id to the ``(seq, period)`` of its current entry,
    so cancelled or re-armed entries left in the heap are recognised as stale and skipped.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, int]] = []
        self._live: dict[int, tuple[int, float | None]] = {}
        self._seq = 0

    def __len__(self) -> int:
        return len(self._live)

    def add(self, timer_id: int, created_at: float, delay: float, repeat: bool) -> None:
        """Schedule ``timer_id`` to fire ``delay`` ms after ``created_at``."""
        if type(delay) is not int or delay < 0:
            delay = normalise_delay(delay)
        self._seq += 1
        seq = self._seq
        self._live[timer_id] = (seq, delay if repeat else None)
        heapq.heappush(self._heap, (created_at + delay, seq, timer_id))

    def cancel(self, timer_id: object) -> None:
        """Forget a timer; unknown, fired or non-numeric ids are ignored like in k6."""
        if not isinstance(timer_id, (int, float)) or isinstance(timer_id, bool):
            return
        self._live.pop(int(timer_id), None)

    def next_due(self) -> float | None:
        """Due time of the earliest live timer, or ``None`` when nothing is pending."""
        heap, live = self._heap, self._live
        while heap:
            due, seq, tid = heap[0]
            entry = live.get(tid)
            if entry is not None and entry[0] == seq:
                return due
            heapq.heappop(heap)
        return None

    def pop_due(self, now: float) -> int | None:
        """Take the earliest timer due at ``now`` and return its id (re-arming intervals)."""
        due = self.next_due()
        if due is None or due > now:
            return None
        _, _, tid = heapq.heappop(self._heap)
        period = self._live[tid][1]
        if period is None:
            del self._live[tid]
            return tid
        nxt = due + period
        if period > 0 and nxt <= now - period:
            # The callback (or a sleep) overran whole periods: skip them, keep the phase.
            nxt = due + period * math.ceil((now - due) / period)
        self._seq += 1
        self._live[tid] = (self._seq, period)
        heapq.heappush(self._heap, (nxt, self._seq, tid))
        return tid

    def is_interval(self, timer_id: int) -> bool:
        entry = self._live.get(timer_id)
        return entry is not None and entry[1] is not None

    def drain(self) -> list[tuple[int, bool]]:
        """Remove every live timer; return ``(id, is_interval)`` in due-time order.

        Used when an iteration ends early: k6 logs one warning per dropped timer, in
        due-time order.
        """
        live = self._live
        entries = sorted(e for e in self._heap if e[2] in live and live[e[2]][0] == e[1])
        out = [(tid, live[tid][1] is not None) for _, _, tid in entries]
        self._heap.clear()
        live.clear()
        return out
