"""How long a scheduler thread polls before it goes to sleep: adaptive halt polling.

On this VM, a thread that sleeps in ``epoll_wait`` and is woken by a packet pays ~50 µs of
wake-up latency, more than the local echo server takes to answer (``bench/rt_floor.py``: a
raw Python client doing sequential echo round trips makes ~10k/s blocking in ``recv`` and
~20–25k/s polling with ``MSG_DONTWAIT``). Go's scheduler, and so k6, spins briefly before it
parks a thread; a thread that always sleeps loses every request-reply exchange to it.

Spinning costs CPU whenever nothing arrives in time, so the window adapts the way KVM's
halt polling does: it grows while the thread's sleeps keep being shorter than the longest
window (an event would have been caught by polling a little longer), and shrinks when a
sleep outlasts it (polling would have been wasted). A thread whose waits are long — VUs
ticking once a second, a quiet chat room — settles at no spin at all. A sleep another
thread ended (an unpark through the eventfd) shrinks the window too: that thread needs the
GIL the polling keeps, so polling would only delay it.

Pure logic: the scheduler measures and asks; nothing here reads a clock.
"""

from __future__ import annotations

import os

#: the longest the window grows to (seconds); 0 switches spinning off
SPIN_MAX_S = float(os.environ.get("JSRUNNER_SPIN_US", "100") or 0) / 1e6
#: the first window after a short sleep, and the smallest kept when shrinking
SPIN_START_S = 10e-6


class SpinWindow:
    """The current polling window of one scheduler thread."""

    __slots__ = ("window", "limit", "start")

    def __init__(self, limit: float = SPIN_MAX_S, start: float = SPIN_START_S) -> None:
        self.limit = limit
        self.start = min(start, limit)
        #: seconds to poll before sleeping (0: sleep at once)
        self.window = 0.0

    def spin_for(self, timeout: float) -> float:
        """Seconds to poll before sleeping for a wait of ``timeout`` (-1: none).

        A wait bounded below the window is polled to its end: sleeping for less than the
        wake-up latency gains nothing.
        """
        if timeout < 0.0:
            return self.window
        return min(self.window, timeout)

    def caught(self) -> None:
        """An event came while polling: the window was long enough; keep it."""

    def woken(self) -> None:
        """Another thread woke the sleeping thread (an unpark, not a socket or a deadline).

        Polling cannot catch such a wake-up: the waker needs the GIL that polling keeps, so
        it would only run once the window ended and cost the window each time. Halve it.
        """
        self.window = self.window / 2.0 if self.window / 2.0 >= self.start else 0.0

    def slept(self, duration: float) -> None:
        """Polling found nothing and the thread slept ``duration`` seconds for its event.

        Short sleep: the event was near, grow the window to catch the next one. Long
        sleep: the polling was wasted, halve the window (below ``start``: none).
        """
        if duration <= self.limit:
            if self.limit > 0.0:
                self.window = min(self.limit, max(self.window * 2.0, self.start))
        else:
            self.woken()
