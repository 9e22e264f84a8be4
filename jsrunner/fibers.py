"""Several VUs on one OS thread: greenlet fibers and the scheduler that runs them.

With one OS thread per VU, every event that reached a sleeping VU (a timer, an echo) cost
a thread wake-up: 15–20 µs of CPU on the 2-core VM, then an interpreter running cache-cold,
however many other VUs were busy (``bench/bench_wakes.py``: ~160 µs of CPU per message
with 50 VUs against k6's ~50). k6 gets cheaper as VUs are added because its goroutines
share a few busy OS threads. Here each VU's ``run_forever`` runs in a greenlet on a shared
scheduler thread instead; one ``epoll_wait`` of that thread serves every VU on it, and
handing over from one VU to the next is a greenlet switch (a few µs), not a futex wake.

dukpy/QuickJS allows it: a runtime parked inside a host call (``bench/spike_greenlet_vus.py``)
is resumed at the same C stack addresses, so each VU keeps its own runtime.

The rules a fiber lives by:

* It blocks only through :meth:`Fiber.park` — directly, or through the fiber-aware
  :class:`Condition`, :class:`Event` and :class:`SimpleQueue` here, which behave exactly
  like ``threading``'s when called from an ordinary thread. A plain blocking call in a fiber
  stalls every VU of its scheduler for its duration.
* It never parks while holding a lock another fiber of the thread may want (``threading``
  locks belong to threads, not greenlets).
* It yields the thread (:meth:`Fiber.maybe_yield`) at safe points when it ran for longer
  than :data:`SLICE_S` and other fibers are waiting: the GIL's switch interval, cooperatively.
  The VU asks at each poll of its event loop and from QuickJS's interrupt handler, so a busy
  JS loop is sliced too.

``JSRUNNER_FIBERS=0`` (or greenlet missing) keeps one OS thread per VU, as before.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import os
import queue
import select
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from . import spinwait

try:
    import greenlet as _greenlet_mod
except ImportError:  # pragma: no cover - greenlet is a dependency; kept for odd platforms
    _greenlet_mod = None

#: may VUs share OS threads (greenlet present and not switched off)
enabled = _greenlet_mod is not None and os.environ.get("JSRUNNER_FIBERS", "1") != "0"

#: a fiber that ran this long yields to waiting fibers at its next safe point (the GIL's
#: default switch interval)
SLICE_S = 0.005

#: most fibers one scheduler thread runs (more start another thread)
PER_THREAD = max(1, int(os.environ.get("JSRUNNER_FIBERS_PER_THREAD", "1024") or 1024))

_EPOLLIN = select.EPOLLIN
_EPOLLET = select.EPOLLET
#: the peer's FIN: reported with the edge of the data before it, after which no further
#: edge comes, so the owner must read on to the end (a short read does not prove it)
_EPOLLRDHUP = select.EPOLLRDHUP
_WATCH = _EPOLLIN | _EPOLLRDHUP | _EPOLLET
_ENDED = _EPOLLRDHUP | select.EPOLLHUP | select.EPOLLERR
_tls = threading.local()
_monotonic = time.monotonic


def current() -> "Fiber | None":
    """The fiber running now, or None on an ordinary thread (or a scheduler's own loop)."""
    sched = getattr(_tls, "sched", None)
    return None if sched is None else sched.running


def ident() -> int:
    """Who is running: the fiber's id, else the thread's (for "is it me again?" checks)."""
    fiber = current()
    return id(fiber) if fiber is not None else threading.get_ident()


class Fiber:
    """One VU's greenlet on a :class:`Scheduler`; looks like a ``Thread`` to joiners."""

    __slots__ = ("sched", "name", "glet", "fn", "args", "permit", "parked", "gen", "queued", "deadline",
                 "pushed", "io_fds", "io_ended", "wants_io", "slice_start", "_done", "__weakref__")

    def __init__(self, sched: "Scheduler", fn: Callable[..., Any], args: tuple[Any, ...], name: str) -> None:
        self.sched = sched
        self.name = name
        self.glet: Any = None
        self.fn = fn
        self.args = args
        #: an unpark arrived that no park consumed yet (LockSupport-style permit)
        self.permit = False
        self.parked = False
        #: counts the fiber's suspensions (parks and yields); a ready-queue entry is for one
        #: suspension only, so an entry left over from an earlier one cannot resume a later
        self.gen = 0
        #: the suspension (``gen``) this fiber is queued to be resumed from
        self.queued = -1
        #: the deadline of the current park (None: none)
        self.deadline: float | None = None
        #: the latest deadline pushed to the scheduler's heap and not popped yet
        self.pushed: float | None = None
        #: descriptors of this fiber the scheduler saw get data since the fiber last looked
        self.io_fds: set[int] = set()
        #: one of them also reported the peer's FIN, a hang-up or an error (read to the end)
        self.io_ended = False
        #: parked where it reads its descriptors (its inbox): data unparks it; elsewhere
        #: (``sleep()``, an executor's wait) data only waits in ``io_fds``
        self.wants_io = False
        self.slice_start = 0.0
        self._done = threading.Event()

    # ---- from the fiber itself -----------------------------------------------------------
    def park(self, deadline: float | None = None) -> bool:
        """Sleep until :meth:`unpark`, ``deadline`` (monotonic) or, when waiting in its inbox
        (``wants_io``), data on one of its sockets. False: the deadline passed unparked.

        May return True spuriously (an unpark meant for another wait of this fiber):
        callers re-check what they wait for.
        """
        sched = self.sched
        with sched.lock:
            if self.permit:
                self.permit = False
                return True
            self.gen += 1
            self.parked = True
            self.deadline = deadline
        if deadline is not None and self.pushed != deadline:
            self.pushed = deadline
            heapq.heappush(sched.timers, (deadline, next(sched.seq), self))
        if not sched.ready and not sched.spawns:
            # nobody else is waiting to run: wait for the thread's events right here, as
            # the scheduler's loop would, and go on without two switches when only this
            # fiber is woken (one VU alone on its thread pays no more than a thread did)
            ready = sched.ready
            while True:
                sched.poll_once()
                if ready or sched.spawns:
                    break
            if len(ready) == 1 and self.queued == self.gen and ready[0][0] is self and not sched.spawns:
                ready.popleft()
                self.slice_start = _monotonic()
            else:
                sched.hub.switch()
        else:
            sched.hub.switch()
        with sched.lock:
            self.parked = False
            self.deadline = None
            woke, self.permit = self.permit, False
        return woke or deadline is None or _monotonic() < deadline

    def maybe_yield(self) -> None:
        """Let the thread's other fibers run if this one has had the thread for a slice.

        Always through the scheduler's loop, even with nothing queued: only the loop finds
        the fibers whose deadline passed or whose sockets got data.
        """
        if _monotonic() - self.slice_start > SLICE_S:
            sched = self.sched
            with sched.lock:
                self.gen += 1
                self.queued = self.gen
                sched.ready.append((self, self.gen))
            sched.hub.switch()

    # ---- any thread ------------------------------------------------------------------
    def unpark(self) -> None:
        sched = self.sched
        with sched.lock:
            self.permit = True
            if not self.parked or self.queued == self.gen:
                return
            self.queued = self.gen
            sched.ready.append((self, self.gen))
            wake = sched.sleeping
        if wake and threading.get_ident() != sched.thread_id:
            sched.wake()

    def join(self, timeout: float | None = None) -> None:
        self._done.wait(timeout)

    def is_alive(self) -> bool:
        return not self._done.is_set()


class Scheduler:
    """One OS thread running fibers: a ready queue, a deadline heap and one epoll."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.lock = threading.Lock()
        #: (fiber, the suspension it is to be resumed from)
        self.ready: collections.deque[tuple[Fiber, int]] = collections.deque()
        self.timers: list[tuple[float, int, Fiber]] = []
        self.seq = itertools.count()
        self.sleeping = False
        self.running: Fiber | None = None
        self.hub: Any = None
        self.live = 0
        #: set once the thread is leaving (no fiber left, and it had one or was closed)
        self.exiting = False
        self.closing = False
        self._had = False
        self.spawns: list[Fiber] = []
        self._owners: dict[int, Fiber] = {}
        self._ep = select.epoll()
        from .transport import heldio  # (late: the transport imports this module)
        #: a look at what is ready between two rounds that keeps the GIL (see heldio)
        self._ready_now = heldio.ReadyNow(self._ep.fileno()).poll if heldio.epoll_available else None
        self._efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._ep.register(self._efd, _EPOLLIN)
        #: how long this thread polls before it sleeps
        self.spin = spinwait.SpinWindow()
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread_id = 0
        self._started = threading.Event()
        self.thread.start()
        self._started.wait()

    # ---- any thread --------------------------------------------------------------------
    def spawn(self, fn: Callable[..., Any], args: tuple[Any, ...], name: str) -> Fiber | None:
        """A new fiber running ``fn(*args)``; None if this scheduler is ending (use another)."""
        fiber = Fiber(self, fn, args, name)
        with self.lock:
            if self.exiting:
                return None
            self.live += 1
            self._had = True
            self.spawns.append(fiber)
            wake = self.sleeping
        if wake:
            self.wake()
        return fiber

    def wake(self) -> None:
        try:
            os.eventfd_write(self._efd, 1)
        except OSError:
            pass

    # ---- descriptors (from the owning fiber) -------------------------------------------
    def watch(self, fd: int, fiber: Fiber) -> None:
        """Unpark ``fiber`` whenever ``fd`` gets data (edge-triggered: the fiber reads it
        level-triggered itself before it parks again)."""
        old = self._owners.get(fd)
        self._owners[fd] = fiber
        try:
            self._ep.register(fd, _WATCH)
        except FileExistsError:
            self._ep.modify(fd, _WATCH)
        except OSError:
            if old is None:
                self._owners.pop(fd, None)
            else:
                self._owners[fd] = old
            raise

    def unwatch(self, fd: int, fiber: Fiber) -> None:
        """Stop watching ``fd`` for ``fiber`` (left alone if the number is someone else's now)."""
        if self._owners.get(fd) is not fiber:
            return
        del self._owners[fd]
        try:
            self._ep.unregister(fd)
        except (OSError, ValueError):
            pass  # closed already: epoll forgot it with the socket

    # ---- the scheduler thread ----------------------------------------------------------
    def _run(self) -> None:
        _tls.sched = self
        self.thread_id = threading.get_ident()
        self.hub = _greenlet_mod.getcurrent()
        self._started.set()
        try:
            self._loop()
        finally:
            _tls.sched = None
            self._ep.close()
            os.close(self._efd)

    def _loop(self) -> None:
        lock = self.lock
        ready = self.ready
        while True:
            with lock:
                spawns, self.spawns = self.spawns, []
                for fiber in spawns:
                    fiber.glet = _greenlet_mod.greenlet(self._main, parent=self.hub)
                    ready.append((fiber, fiber.gen))
            # one round: the fibers ready now (those they wake wait for the next round, after
            # a look at the sockets and deadlines); taken one at a time, so that ``ready``
            # is empty only when no fiber is waiting to run (see Fiber.park)
            for _ in range(len(ready)):
                fiber, gen = ready.popleft()
                if gen != fiber.gen or fiber._done.is_set():
                    continue  # resumed already, from an earlier entry
                self.running = fiber
                fiber.slice_start = _monotonic()
                try:
                    fiber.glet.switch(fiber)
                finally:
                    self.running = None
            with lock:
                if not ready and not self.spawns and self.live == 0 and (self._had or self.closing):
                    self.exiting = True
                    return
            self.poll_once()

    def poll_once(self) -> None:
        """Wait for the thread's events (none if a fiber is ready to run), then queue the
        fibers they wake. Run by the loop, or by a parking fiber when no other is ready.

        Before it sleeps, the thread polls for a while when its recent sleeps were short
        and polling shortened its waits (:mod:`jsrunner.spinwait`): an answer that comes
        within microseconds is then taken without the VM's wake-up latency.
        """
        events = None
        began = 0.0
        spin = self.spin
        with self.lock:
            timeout = self._timeout() if not self.ready and not self.spawns else 0.0
            window = spin.spin_for(timeout) if timeout != 0.0 and self._ready_now is not None else 0.0
            self.sleeping = window == 0.0 and timeout != 0.0
        if window > 0.0:
            began = _monotonic()
            events = self._spin(window, began)
            if events is None:  # nothing came: sleep, for what is left of the wait
                with self.lock:
                    timeout = self._timeout() if not self.ready and not self.spawns else 0.0
                    self.sleeping = timeout != 0.0
        if events is None:
            try:
                if timeout == 0.0 and self._ready_now is not None:
                    events = self._ready_now()
                else:
                    start = _monotonic()
                    events = self._ep.poll(timeout)
                    if timeout != 0.0:
                        now = _monotonic()
                        if not events:
                            spin.slept(now - start)  # the deadline came
                        elif any(fd == self._efd for fd, _ in events):
                            spin.woken()
                        else:
                            spin.slept(now - start, now - (began or start))
            finally:
                self.sleeping = False
        if events:
            for fd, mask in events:
                if fd == self._efd:
                    try:
                        os.eventfd_read(fd)
                    except OSError:
                        pass
                    continue
                fiber = self._owners.get(fd)
                if fiber is not None:
                    fiber.io_fds.add(fd)
                    if mask & _ENDED:
                        fiber.io_ended = True
                    if fiber.wants_io:
                        self._make_ready(fiber)
        self._expire()

    def _spin(self, window: float, began: float) -> list[tuple[int, int]] | None:
        """Poll for up to ``window`` seconds from ``began``, keeping the GIL; None: nothing
        came (sleep).

        A fiber another thread unparks meanwhile is in ``ready`` without an eventfd write
        (the thread is not ``sleeping``), so the loop watches ``ready`` too.
        """
        ready_now = self._ready_now
        assert ready_now is not None
        ready = self.ready
        end = began + window
        while True:
            events = ready_now()
            if events or ready or self.spawns:
                self.spin.caught(_monotonic() - began)
                return events
            if _monotonic() >= end:
                return None

    def _timeout(self) -> float:
        """Seconds until the earliest deadline (-1: none)."""
        timers = self.timers
        while timers:
            deadline, _, fiber = timers[0]
            if fiber.parked and fiber.deadline is not None:
                return max(0.0, deadline - _monotonic())
            heapq.heappop(timers)
            if fiber.pushed == deadline:
                fiber.pushed = None
        return -1.0

    def _expire(self) -> None:
        timers = self.timers
        if not timers:
            return
        now = _monotonic()
        while timers and timers[0][0] <= now:
            deadline, _, fiber = heapq.heappop(timers)
            if fiber.pushed == deadline:
                fiber.pushed = None
            if fiber.parked and fiber.deadline is not None and fiber.deadline <= now:
                self._make_ready(fiber)

    def _make_ready(self, fiber: Fiber) -> None:
        with self.lock:
            if fiber.parked and fiber.queued != fiber.gen:
                fiber.queued = fiber.gen
                self.ready.append((fiber, fiber.gen))

    def _main(self, fiber: Fiber) -> None:
        try:
            fiber.fn(*fiber.args)
        except _greenlet_mod.GreenletExit:
            pass  # collected while parked (an abandoned stuck VU at interpreter exit)
        except BaseException:  # noqa: BLE001 - like an uncaught exception in a thread
            sys.stderr.write(f"Exception in fiber {fiber.name}:\n{traceback.format_exc()}")
        finally:
            with self.lock:
                self.live -= 1
            fiber._done.set()


class SchedulerPool:
    """The scheduler threads of one run; fibers go to the newest one with room.

    A scheduler whose last fiber ended exits by itself; :meth:`join` waits for that.
    """

    def __init__(self, name: str = "vus", per_thread: int | None = None) -> None:
        self.name = name
        self.per_thread = PER_THREAD if per_thread is None else per_thread
        self._lock = threading.Lock()
        self._scheds: list[Scheduler] = []
        self._count = 0

    def spawn(self, fn: Callable[..., Any], args: tuple[Any, ...], name: str) -> Fiber:
        with self._lock:
            for sched in reversed(self._scheds):
                if sched.live < self.per_thread:
                    fiber = sched.spawn(fn, args, name)
                    if fiber is not None:
                        return fiber
            self._scheds = [s for s in self._scheds if not s.exiting]
            self._count += 1
            sched = Scheduler(f"{self.name}-{self._count}")
            self._scheds.append(sched)
            fiber = sched.spawn(fn, args, name)
            assert fiber is not None
            return fiber

    def join(self, timeout: float = 5.0) -> None:
        deadline = _monotonic() + timeout
        with self._lock:
            scheds, self._scheds = self._scheds, []
        for sched in scheds:
            with sched.lock:
                sched.closing = True
            sched.wake()
            sched.thread.join(max(0.0, deadline - _monotonic()))


# ---- blocking primitives that park a fiber instead of its thread ---------------------------
class _Waiter:
    """Stands for a fiber in a ``threading.Condition``'s waiter list (it calls ``release``)."""

    __slots__ = ("fiber", "notified")

    def __init__(self, fiber: Fiber) -> None:
        self.fiber = fiber
        self.notified = False

    def release(self) -> None:
        if self.notified:
            raise RuntimeError("release unlocked lock")  # what Condition.notify expects
        self.notified = True
        self.fiber.unpark()


class Condition(threading.Condition):
    """``threading.Condition`` whose ``wait`` parks the calling fiber (if it is one).

    A fiber waits as a :class:`_Waiter` in the condition's own waiter list, so ``notify``
    (which calls ``release()`` on the waiters it picks) works unchanged from threads and
    fibers alike: CPython's waiter protocol since 3.2 (``_waiters``, ``_release_save``,
    ``_acquire_restore``, ``_is_owned``), checked by tests/test_fibers.py.
    """

    def wait(self, timeout: float | None = None) -> bool:
        fiber = current()
        if fiber is None:
            return super().wait(timeout)
        if not self._is_owned():  # type: ignore[attr-defined]
            raise RuntimeError("cannot wait on un-acquired lock")
        waiter = _Waiter(fiber)
        self._waiters.append(waiter)  # type: ignore[attr-defined]
        saved = self._release_save()  # type: ignore[attr-defined]
        try:
            deadline = None if timeout is None else _monotonic() + max(0.0, timeout)
            while not waiter.notified:
                if deadline is not None and _monotonic() >= deadline:
                    break
                fiber.park(deadline)
            return waiter.notified
        finally:
            self._acquire_restore(saved)  # type: ignore[attr-defined]
            if not waiter.notified:
                try:
                    self._waiters.remove(waiter)  # type: ignore[attr-defined]
                except ValueError:
                    pass


class Event(threading.Event):
    """``threading.Event`` whose ``wait`` parks the calling fiber (if it is one)."""

    def __init__(self) -> None:
        super().__init__()
        self._cond = Condition(threading.Lock())


class SimpleQueue:
    """A one-consumer ``queue.SimpleQueue`` whose ``get`` parks the calling fiber."""

    __slots__ = ("_q", "_waiter")

    def __init__(self) -> None:
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._waiter: Fiber | None = None

    def put(self, item: Any) -> None:
        self._q.put(item)
        waiter = self._waiter
        if waiter is not None:
            waiter.unpark()

    def get_nowait(self) -> Any:
        return self._q.get_nowait()

    def empty(self) -> bool:
        return self._q.empty()

    def qsize(self) -> int:
        return self._q.qsize()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        fiber = current()
        if fiber is None or not block:
            return self._q.get(block, timeout)
        q = self._q
        deadline = None if timeout is None else _monotonic() + max(0.0, timeout)
        while True:
            if not q.empty():
                return q.get_nowait()
            self._waiter = fiber
            try:
                if not q.empty():
                    continue
                if deadline is not None and _monotonic() >= deadline:
                    raise queue.Empty
                fiber.park(deadline)
            finally:
                self._waiter = None
