"""How long a scheduler thread polls before it goes to sleep: adaptive halt polling.

On this VM, a thread that sleeps in ``epoll_wait`` and is woken by a packet pays ~50 µs of
wake-up latency, more than the local echo server takes to answer (``bench/rt_floor.py``: a
raw Python client doing sequential echo round trips makes ~10k/s blocking in ``recv`` and
~20–25k/s polling with ``MSG_DONTWAIT``). Go's scheduler, and so k6, spins briefly before it
parks a thread; a thread that always sleeps loses every request-reply exchange to it.

Two rules decide, both measured on the thread's own waits:

* The window (how long to poll) adapts the way KVM's halt polling does: it grows while the
  thread's sleeps keep being shorter than the longest window (an event would have been
  caught by polling a little longer), and shrinks when a sleep outlasts it (polling would
  have been wasted). A sleep another thread ended (an unpark through the eventfd) shrinks
  it too: that thread needs the GIL the polling keeps, so polling would only delay it.
* Polling must pay. On a machine with no idle core, a polling thread keeps a core busy that
  the peer (a local server) then waits for: with a CPU-bound process beside it, polling made
  round trips ~25% slower instead of faster (``bench_websockets.py --only rt``). So waits
  are timed in epochs of :data:`EPOCH` with polling and without, and the thread polls only
  while its typical wait with polling is clearly shorter. A short probe (:data:`PROBE`
  waits) tries the other way again after :data:`PROBE_EVERY` epochs of polling, or
  :data:`PROBE_EVERY_SLEEPING` of sleeping, so a change of conditions is noticed; a thread
  that sleeps while polling would pay loses more than one that polls in vain, hence the
  more frequent probes then. An epoch's typical wait is its median (a GC pause or a slow
  reply in it must not decide a whole probe period), smoothed over epochs.

A thread whose waits are long — VUs ticking once a second, a quiet chat room — settles at
no polling at all.

Pure logic: the scheduler measures and asks; nothing here reads a clock.
"""

from __future__ import annotations

import os

#: the longest the window grows to (seconds); 0 switches polling off
SPIN_MAX_S = float(os.environ.get("JSRUNNER_SPIN_US", "100") or 0) / 1e6
#: the first window after a short sleep, and the smallest kept when shrinking
SPIN_START_S = 10e-6
#: waits (ended by an event) per measured epoch
EPOCH = 32
#: waits of a probe of the way not chosen
PROBE = 8
#: epochs of polling before a probe of sleeping, and of sleeping before a probe of polling
PROBE_EVERY = 32
PROBE_EVERY_SLEEPING = 8
#: polling is kept only if its typical wait is below this share of the one without
PAYS = 0.9
#: weight of the latest epoch in a way's typical wait
SMOOTHING = 0.5


class SpinWindow:
    """The polling window of one scheduler thread, and whether polling pays there."""

    __slots__ = ("window", "limit", "start", "polling", "typical_poll", "typical_sleep",
                 "_waits", "_epochs", "_probing")

    def __init__(self, limit: float = SPIN_MAX_S, start: float = SPIN_START_S) -> None:
        self.limit = limit
        self.start = min(start, limit)
        #: seconds to poll before sleeping, while polling pays (0: sleep at once)
        self.window = 0.0
        #: this epoch polls (False: it sleeps at once, whatever the window)
        self.polling = limit > 0.0
        #: typical wait with polling / without (None: not measured yet)
        self.typical_poll: float | None = None
        self.typical_sleep: float | None = None
        self._waits: list[float] = []
        self._epochs = 0
        self._probing = False

    def spin_for(self, timeout: float) -> float:
        """Seconds to poll before sleeping for a wait of ``timeout`` (-1: none).

        A wait bounded below the window is polled to its end: sleeping for less than the
        wake-up latency gains nothing.
        """
        if not self.polling:
            return 0.0
        if timeout < 0.0:
            return self.window
        return min(self.window, timeout)

    def caught(self, waited: float) -> None:
        """An event came while polling, ``waited`` seconds into the wait: keep the window."""
        self._count(waited)

    def woken(self) -> None:
        """Another thread woke the sleeping thread (an unpark, not a socket or a deadline).

        Polling cannot catch such a wake-up: the waker needs the GIL that polling keeps, so
        it would only run once the window ended and cost the window each time. Halve it.
        """
        self._shrink()

    def slept(self, duration: float, waited: float | None = None) -> None:
        """The thread slept ``duration`` seconds (after polling, if it did); ``waited``: the
        whole wait, when an event (not a deadline) ended it.

        Short sleep: the event was near, grow the window to catch the next one. Long
        sleep: the polling was wasted, halve the window (below ``start``: none).
        """
        if duration <= self.limit:
            if self.limit > 0.0:
                self.window = min(self.limit, max(self.window * 2.0, self.start))
        else:
            self._shrink()
        if waited is not None:
            self._count(waited)

    def _shrink(self) -> None:
        self.window = self.window / 2.0 if self.window / 2.0 >= self.start else 0.0

    def _count(self, waited: float) -> None:
        if self.limit <= 0.0:
            return
        waits = self._waits
        waits.append(waited)
        if len(waits) >= (PROBE if self._probing else EPOCH):
            self._decide()

    def _decide(self) -> None:
        """An epoch ended: note its typical wait and choose how the next one waits."""
        waits = self._waits
        waits.sort()
        median = waits[len(waits) // 2]
        self._waits = []
        if self.polling:
            self.typical_poll = _smoothed(self.typical_poll, median)
        else:
            self.typical_sleep = _smoothed(self.typical_sleep, median)
        if self.typical_poll is None or self.typical_sleep is None:
            self.polling = self.typical_poll is None  # measure the way not measured yet
            return
        pays = self.typical_poll < self.typical_sleep * PAYS
        if self._probing:
            self._probing = False
            self._epochs = 0
            self.polling = pays
            return
        self._epochs += 1
        if self._epochs >= (PROBE_EVERY if pays else PROBE_EVERY_SLEEPING):
            self._probing = True
            self.polling = not pays
        else:
            self.polling = pays


def _smoothed(old: float | None, latest: float) -> float:
    return latest if old is None else old + SMOOTHING * (latest - old)
