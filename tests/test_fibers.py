"""The fiber core (:mod:`jsrunner.fibers`) and the inbox's fiber path, with real threads.

VUs run as greenlet fibers on shared scheduler threads; everything a VU blocks on must park
its fiber instead of its thread, and wake it from any thread. These tests drive the
scheduler, ``park``/``unpark``, the fiber-aware ``Condition``/``Event``/``SimpleQueue``,
``maybe_yield`` and :class:`jsrunner.transport.inbox.Inbox` directly, without mocks. Every
fiber or thread is joined with a timeout, so a broken scheduler fails a test instead of
hanging the run.
"""

from __future__ import annotations

import itertools
import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("greenlet")

from jsrunner import fibers  # noqa: E402
from jsrunner.spinwait import SpinWindow  # noqa: E402
from jsrunner.transport.inbox import Inbox  # noqa: E402

pytestmark = pytest.mark.skipif(not fibers.enabled, reason="fibers disabled (JSRUNNER_FIBERS=0)")

#: how long any helper waits for a fiber/thread before declaring it hung
HANG_S = 2.0

_pool_names = itertools.count()


# ---- helpers ---------------------------------------------------------------------------
class _Call:
    """A callable run elsewhere; :meth:`result` returns its value or re-raises its error."""

    def __init__(self) -> None:
        self.value: Any = None
        self.error: BaseException | None = None
        self.handle: threading.Thread | fibers.Fiber | None = None

    def _body(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        try:
            self.value = fn(*args)
        except BaseException as exc:  # noqa: BLE001 - handed to the test by result()
            self.error = exc

    def result(self, timeout: float = HANG_S) -> Any:
        assert self.handle is not None
        self.handle.join(timeout)
        assert not self.handle.is_alive(), f"{self.handle.name} still running after {timeout}s"
        if self.error is not None:
            raise self.error
        return self.value


def in_fiber(pool: fibers.SchedulerPool, fn: Callable[..., Any], *args: Any, name: str = "fiber") -> _Call:
    """Start ``fn(*args)`` as a fiber of ``pool``."""
    call = _Call()
    call.handle = pool.spawn(call._body, (fn, args), name)
    return call


def in_thread(fn: Callable[..., Any], *args: Any, name: str = "helper") -> _Call:
    """Start ``fn(*args)`` on an ordinary daemon thread."""
    call = _Call()
    t = threading.Thread(target=call._body, args=(fn, args), name=name, daemon=True)
    call.handle = t
    t.start()
    return call


def parked_fiber(pool: fibers.SchedulerPool, fn: Callable[..., Any]) -> tuple[_Call, fibers.Fiber]:
    """Start ``fn`` as a fiber of ``pool`` and return once it has parked."""
    call = in_fiber(pool, fn)
    fiber = call.handle
    assert isinstance(fiber, fibers.Fiber)
    wait_until(lambda: fiber.parked)
    return call, fiber


def wait_until(pred: Callable[[], bool], timeout: float = HANG_S) -> None:
    """Poll ``pred`` from an ordinary thread (1 ms steps); fail if it stays false."""
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.001)


def fiber_sleep(seconds: float) -> None:
    """Sleep in a fiber without blocking its scheduler thread."""
    fiber = fibers.current()
    assert fiber is not None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fiber.park(deadline)


def pool_threads(pool: fibers.SchedulerPool) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(pool.name + "-") and t.is_alive()]


@pytest.fixture
def pool() -> Iterator[fibers.SchedulerPool]:
    """A pool with a name of its own (so its threads can be told apart)."""
    p = fibers.SchedulerPool(name=f"tfib{next(_pool_names)}")
    yield p
    p.join(timeout=1.0)


# ---- 1. spawning, identity, joining ----------------------------------------------------
def test_spawn_runs_in_a_fiber_on_a_scheduler_thread(pool: fibers.SchedulerPool) -> None:
    """A spawned function runs on the pool's thread, and current() is its Fiber there only."""
    assert fibers.current() is None

    def body() -> tuple[str, Any, bool]:
        return threading.current_thread().name, fibers.current(), threading.current_thread() is threading.main_thread()

    call = in_fiber(pool, body, name="f1")
    thread_name, cur, on_main = call.result()
    assert thread_name.startswith(pool.name + "-")
    assert cur is call.handle
    assert isinstance(cur, fibers.Fiber) and cur.name == "f1"
    assert not on_main
    assert in_thread(fibers.current).result() is None


def test_ident_tells_fibers_of_one_thread_apart(pool: fibers.SchedulerPool) -> None:
    """ident() is per fiber (two fibers share a thread id), and the thread id elsewhere."""
    go = fibers.Event()

    def body() -> tuple[int, int, int]:
        tid, me = threading.get_ident(), fibers.ident()
        assert go.wait(HANG_S)
        return tid, me, id(fibers.current())

    a, b = in_fiber(pool, body, name="a"), in_fiber(pool, body, name="b")
    go.set()
    (tid_a, id_a, fa), (tid_b, id_b, fb) = a.result(), b.result()
    assert tid_a == tid_b
    assert id_a != id_b
    assert (id_a, id_b) == (fa, fb)
    assert id_a != tid_a
    assert fibers.ident() == threading.get_ident()
    assert in_thread(lambda: fibers.ident() == threading.get_ident()).result() is True


def test_fiber_join_and_is_alive_behave_like_a_thread(pool: fibers.SchedulerPool) -> None:
    """Joiners of a VU treat the Fiber as a Thread: join(timeout) returns, is_alive tracks it."""
    go = fibers.Event()
    call = in_fiber(pool, lambda: go.wait(HANG_S))
    fiber = call.handle
    assert isinstance(fiber, fibers.Fiber)
    t0 = time.monotonic()
    assert fiber.join(0.05) is None
    assert 0.04 <= time.monotonic() - t0 < 1.0
    assert fiber.is_alive()
    go.set()
    assert call.result() is True
    assert not fiber.is_alive()
    fiber.join()  # returns at once once done


def test_uncaught_exception_ends_fiber_and_is_printed(pool: fibers.SchedulerPool, capfd: pytest.CaptureFixture[str]) -> None:
    """Like a thread: an uncaught error is printed, the fiber ends, the scheduler goes on."""

    def boom() -> None:
        raise ValueError("kaput-in-fiber")

    fiber = pool.spawn(boom, (), "boomer")
    fiber.join(HANG_S)
    assert not fiber.is_alive()
    assert in_fiber(pool, lambda: 42).result() == 42
    err = capfd.readouterr().err
    assert "Exception in fiber boomer" in err and "kaput-in-fiber" in err


def test_pool_join_ends_scheduler_threads() -> None:
    """After join no scheduler thread of the pool remains (per_thread=1: one per fiber)."""
    p = fibers.SchedulerPool(name=f"tfib{next(_pool_names)}", per_thread=1)
    go = fibers.Event()
    calls = [in_fiber(p, lambda: (go.wait(HANG_S), threading.current_thread().name)) for _ in range(3)]
    wait_until(lambda: len(pool_threads(p)) == 3)
    go.set()
    names = {c.result()[1] for c in calls}
    assert len(names) == 3  # one scheduler each
    p.join(timeout=HANG_S)
    assert pool_threads(p) == []


def test_pool_fills_a_scheduler_up_to_per_thread(pool: fibers.SchedulerPool) -> None:
    """Fibers share the newest thread until it has per_thread of them, then a new one starts."""
    pool.per_thread = 2
    go = fibers.Event()
    calls = [in_fiber(pool, lambda: (go.wait(HANG_S), threading.current_thread().name)) for _ in range(3)]
    go.set()
    names = [c.result()[1] for c in calls]
    assert names[0] == names[1] != names[2]


# ---- 2. park / unpark ------------------------------------------------------------------
def test_unpark_from_another_thread_wakes_parked_fiber(pool: fibers.SchedulerPool) -> None:
    """A parked fiber sleeps until an OS thread unparks it (the scheduler's epoll is woken)."""

    def body() -> tuple[bool, float]:
        fiber = fibers.current()
        assert fiber is not None
        t0 = time.monotonic()
        return fiber.park(), time.monotonic() - t0

    call = in_fiber(pool, body)
    fiber = call.handle
    assert isinstance(fiber, fibers.Fiber)
    wait_until(lambda: fiber.parked)
    time.sleep(0.03)
    assert fiber.is_alive()  # still parked: no spurious return
    in_thread(fiber.unpark).result()
    woke, elapsed = call.result()
    assert woke is True
    assert elapsed >= 0.025


def test_unpark_before_park_is_not_lost(pool: fibers.SchedulerPool) -> None:
    """An unpark that arrives before park is kept as a permit: the next park returns at once."""
    unparked = threading.Event()

    def body() -> tuple[bool, float, bool]:
        fiber = fibers.current()
        assert fiber is not None
        assert unparked.wait(HANG_S)  # blocks the scheduler thread: fine, it is alone
        t0 = time.monotonic()
        woke = fiber.park(time.monotonic() + 1.0)
        elapsed = time.monotonic() - t0
        # the permit is used up: the next park waits for its deadline
        again = fiber.park(time.monotonic() + 0.03)
        return woke, elapsed, again

    call = in_fiber(pool, body)
    fiber = call.handle
    assert isinstance(fiber, fibers.Fiber)
    wait_until(lambda: fiber.slice_start != 0.0)  # it runs (and is not parked)
    fiber.unpark()
    unparked.set()
    woke, elapsed, again = call.result()
    assert woke is True
    assert elapsed < 0.5
    assert again is False


def test_self_unpark_then_park_returns_true(pool: fibers.SchedulerPool) -> None:
    """A fiber may unpark itself (what a notify from its own thread does)."""

    def body() -> bool:
        fiber = fibers.current()
        assert fiber is not None
        fiber.unpark()
        return fiber.park(time.monotonic() + 1.0)

    t0 = time.monotonic()
    assert in_fiber(pool, body).result() is True
    assert time.monotonic() - t0 < 0.5


def test_park_deadline_returns_false_after_that_time(pool: fibers.SchedulerPool) -> None:
    """Nobody unparks: park(deadline) returns False once the deadline passed, not much later."""

    def body() -> tuple[bool, float]:
        fiber = fibers.current()
        assert fiber is not None
        t0 = time.monotonic()
        woke = fiber.park(t0 + 0.08)
        return woke, time.monotonic() - t0

    woke, elapsed = in_fiber(pool, body).result()
    assert woke is False
    assert 0.075 <= elapsed < 0.5


def test_parked_fibers_wake_in_deadline_order(pool: fibers.SchedulerPool) -> None:
    """Two fibers of one scheduler: the earlier deadline wakes first, each not before its own."""
    order: list[str] = []
    t0 = time.monotonic()

    def body(tag: str, deadline: float) -> tuple[bool, float, str]:
        fiber = fibers.current()
        assert fiber is not None
        woke = fiber.park(deadline)
        now = time.monotonic()
        order.append(tag)
        return woke, now - deadline, threading.current_thread().name

    late = in_fiber(pool, body, "late", t0 + 0.12)
    early = in_fiber(pool, body, "early", t0 + 0.05)
    (w_late, over_late, th_late), (w_early, over_early, th_early) = late.result(), early.result()
    assert th_late == th_early
    assert order == ["early", "late"]
    assert w_late is False and w_early is False
    assert over_late >= 0 and over_early >= 0


def test_park_never_returns_false_before_its_deadline(pool: fibers.SchedulerPool) -> None:
    """park(deadline) is "unpark (True) or deadline (False)"; False early breaks direct callers."""

    def park_first() -> None:
        fiber = fibers.current()
        assert fiber is not None
        fiber.park(time.monotonic() + HANG_S)

    def a_body() -> None:
        park_first()
        b_fiber.unpark()  # b is parked and waits for its turn in this very batch

    def b_body() -> tuple[bool, float]:
        park_first()
        fiber = fibers.current()
        assert fiber is not None
        t0 = time.monotonic()
        woke = fiber.park(t0 + 0.3)
        return woke, time.monotonic() - t0

    a = in_fiber(pool, a_body, name="a")
    b = in_fiber(pool, b_body, name="b")
    b_fiber = b.handle
    assert isinstance(a.handle, fibers.Fiber) and isinstance(b_fiber, fibers.Fiber)

    def c_body() -> None:  # same thread: a and b become ready in one batch, a first
        a.handle.unpark()
        b_fiber.unpark()

    in_fiber(pool, c_body, name="c").result()
    a.result()
    woke, elapsed = b.result()
    assert woke or elapsed >= 0.29, f"park returned False after {elapsed * 1000:.1f} ms of 300"


def _wide_spin(fiber: fibers.Fiber, seconds: float) -> None:
    """Make the fiber's scheduler poll for ``seconds`` before it sleeps (from the fiber)."""
    fiber.sched.spin = SpinWindow(limit=seconds, start=seconds)
    fiber.sched.spin.window = seconds


def test_unpark_from_a_thread_ends_the_polling_at_once(pool: fibers.SchedulerPool) -> None:
    """While its scheduler polls before sleeping, a fiber unparked by another thread resumes
    then, not when the window ends (no eventfd write reaches a thread that is not asleep)."""

    def body() -> float:
        fiber = fibers.current()
        assert fiber is not None
        _wide_spin(fiber, 1.5)
        t0 = time.monotonic()
        assert fiber.park()
        return time.monotonic() - t0

    call, fiber = parked_fiber(pool, body)
    time.sleep(0.05)
    in_thread(fiber.unpark).result()
    assert call.result() < 1.0


def test_socket_data_caught_while_polling_wakes_the_fiber_and_keeps_the_window(pool: fibers.SchedulerPool) -> None:
    """Data on a watched socket during the polling window resumes the fiber without a
    sleep, and the window stays as it was."""
    a, b = socket.socketpair()
    try:
        def body() -> tuple[float, float, float]:
            fiber = fibers.current()
            assert fiber is not None
            _wide_spin(fiber, 1.5)
            fiber.sched.watch(a.fileno(), fiber)
            fiber.wants_io = True
            t0 = time.monotonic()
            try:
                fiber.park()
            finally:
                fiber.wants_io = False
                fiber.sched.unwatch(a.fileno(), fiber)
            return time.monotonic() - t0, fiber.sched.spin.window, len(fiber.io_fds)

        call, _ = parked_fiber(pool, body)
        time.sleep(0.05)
        b.send(b"x")
        elapsed, window, fds = call.result()
        assert elapsed < 1.0
        assert window == 1.5
        assert fds == 1
    finally:
        a.close()
        b.close()


def test_wake_ups_by_another_thread_do_not_make_the_scheduler_poll(pool: fibers.SchedulerPool) -> None:
    """Short sleeps ended by another thread's unpark leave the window at nothing: that
    thread needs the GIL the polling would keep."""
    gate = threading.Event()

    def body() -> float:
        fiber = fibers.current()
        assert fiber is not None
        fiber.sched.spin = SpinWindow(limit=5.0, start=0.001)  # every sleep here is "short"
        for _ in range(10):
            gate.set()
            fiber.park()
        return fiber.sched.spin.window

    call = in_fiber(pool, body)
    fiber = call.handle
    assert isinstance(fiber, fibers.Fiber)

    def waker() -> None:
        for _ in range(10):
            assert gate.wait(HANG_S)
            gate.clear()
            wait_until(lambda: fiber.parked or not fiber.is_alive())
            time.sleep(0.002)
            fiber.unpark()

    in_thread(waker).result(timeout=5 * HANG_S)
    assert call.result() == 0.0


def test_long_sleeps_leave_the_scheduler_sleeping_without_polling(pool: fibers.SchedulerPool) -> None:
    """A fiber woken after long sleeps (a VU ticking slowly) costs no polling: the default
    window shrinks to nothing."""

    def body() -> tuple[float, float]:
        fiber = fibers.current()
        assert fiber is not None
        fiber.sched.spin.window = fiber.sched.spin.limit
        for _ in range(12):
            fiber_sleep(0.01)
        long_after = fiber.sched.spin.window
        return long_after, fiber.sched.spin.limit

    window, limit = in_fiber(pool, body).result()
    assert window == 0.0 or limit == 0.0


# ---- 3. Condition ----------------------------------------------------------------------
def test_condition_thread_notifies_waiting_fiber(pool: fibers.SchedulerPool) -> None:
    """A fiber waits on a Condition; an OS thread's notify wakes it (True, lock held again)."""
    cond = fibers.Condition()
    state = {"waiting": False, "flag": False}

    def waiter() -> tuple[bool, bool, bool]:
        with cond:
            state["waiting"] = True
            got = cond.wait(HANG_S)
            return got, state["flag"], cond._is_owned()  # type: ignore[attr-defined]

    call = in_fiber(pool, waiter)

    def notifier() -> None:
        deadline = time.monotonic() + HANG_S
        while time.monotonic() < deadline:
            with cond:  # only possible once the fiber released the lock in wait()
                if state["waiting"]:
                    state["flag"] = True
                    cond.notify()
                    return
            time.sleep(0.001)
        raise AssertionError("fiber never waited")

    in_thread(notifier).result()
    assert call.result() == (True, True, True)


def test_condition_fiber_notifies_waiting_thread(pool: fibers.SchedulerPool) -> None:
    """The other direction: an OS thread waits, a fiber notifies."""
    cond = fibers.Condition()
    state = {"waiting": False, "flag": False}

    def waiter() -> bool:
        with cond:
            state["waiting"] = True
            return cond.wait_for(lambda: state["flag"], HANG_S)

    thread_call = in_thread(waiter)

    def notifier() -> None:
        deadline = time.monotonic() + HANG_S
        while time.monotonic() < deadline:
            with cond:
                if state["waiting"]:
                    state["flag"] = True
                    cond.notify()
                    return
            fiber_sleep(0.002)
        raise AssertionError("thread never waited")

    in_fiber(pool, notifier).result()
    assert thread_call.result() is True


def test_condition_wait_timeout_in_fiber(pool: fibers.SchedulerPool) -> None:
    """wait(timeout) in a fiber returns False after the timeout and leaves the waiter list,
    so a later notify() goes to the next real waiter instead of the stale one."""
    cond = fibers.Condition()

    def body() -> tuple[bool, float, bool]:
        with cond:
            t0 = time.monotonic()
            got = cond.wait(0.05)
            return got, time.monotonic() - t0, cond._is_owned()  # type: ignore[attr-defined]

    got, elapsed, owned = in_fiber(pool, body).result()
    assert got is False and owned
    assert 0.045 <= elapsed < 0.5

    state = {"waiting": False}

    def thread_waiter() -> bool:
        with cond:
            state["waiting"] = True
            return cond.wait(HANG_S)

    tw = in_thread(thread_waiter)
    wait_until(lambda: state["waiting"])
    with cond:
        cond.notify()  # n=1: must reach the thread
    assert tw.result(1.0) is True


def test_condition_wait_without_lock_raises_in_fiber(pool: fibers.SchedulerPool) -> None:
    """Like threading: waiting on an un-acquired Condition is an error, in a fiber too."""
    cond = fibers.Condition(threading.Lock())
    with pytest.raises(RuntimeError):
        in_fiber(pool, cond.wait, 0.01).result()


def test_condition_notify_all_wakes_several_fibers_on_one_scheduler(pool: fibers.SchedulerPool) -> None:
    """notify_all reaches every fiber waiting, all parked on the same scheduler thread."""
    cond = fibers.Condition()
    state = {"waiting": 0, "go": False}

    def waiter() -> tuple[bool, str]:
        with cond:
            state["waiting"] += 1
            got = cond.wait_for(lambda: state["go"], HANG_S)
            return got, threading.current_thread().name

    calls = [in_fiber(pool, waiter, name=f"w{i}") for i in range(4)]

    def all_waiting() -> bool:
        with cond:
            return state["waiting"] == 4

    wait_until(all_waiting)
    with cond:
        state["go"] = True
        cond.notify_all()
    results = [c.result() for c in calls]
    assert all(got for got, _ in results)
    assert len({name for _, name in results}) == 1


def test_condition_over_rlock_in_fiber(pool: fibers.SchedulerPool) -> None:
    """With an RLock held twice, wait releases it fully (a thread gets in) and restores both levels."""
    lock = threading.RLock()
    cond = fibers.Condition(lock)
    state = {"waiting": False}

    def waiter() -> tuple[bool, bool]:
        with cond:
            with cond:
                state["waiting"] = True
                got = cond.wait(HANG_S)
            still_owned = cond._is_owned()  # type: ignore[attr-defined]  # outer level kept
        return got, still_owned

    call = in_fiber(pool, waiter)

    def notifier() -> None:
        wait_until(lambda: state["waiting"])
        assert lock.acquire(timeout=HANG_S)  # fully released by the fiber's wait
        try:
            cond.notify()
        finally:
            lock.release()

    in_thread(notifier).result()
    assert call.result() == (True, True)
    assert lock.acquire(timeout=0.5)  # the fiber released both levels when it left
    lock.release()


def test_condition_between_two_fibers_of_one_thread(pool: fibers.SchedulerPool) -> None:
    """A fiber notifies another fiber of the same scheduler (no OS wake-up involved)."""
    cond = fibers.Condition(threading.Lock())
    items: list[int] = []

    def consumer() -> list[int]:
        got: list[int] = []
        with cond:
            while len(got) < 5:
                if not cond.wait_for(lambda: bool(items), HANG_S):
                    raise AssertionError("producer's notify lost")
                got.extend(items)
                items.clear()
        return got

    def producer() -> None:
        for i in range(5):
            with cond:
                items.append(i)
                cond.notify()
            fiber_sleep(0.001)

    c = in_fiber(pool, consumer, name="consumer")
    p = in_fiber(pool, producer, name="producer")
    p.result()
    assert c.result() == [0, 1, 2, 3, 4]


def test_condition_on_plain_threads_is_threading_condition() -> None:
    """Outside fibers it is threading.Condition: wait/notify, timeouts, ownership errors."""
    cond = fibers.Condition()
    with pytest.raises(RuntimeError):
        cond.notify()
    with pytest.raises(RuntimeError):
        cond.wait(0.01)
    with cond:
        t0 = time.monotonic()
        assert cond.wait(0.03) is False
        assert time.monotonic() - t0 >= 0.025
    state = {"n": 0}

    def producer() -> None:
        for _ in range(3):
            time.sleep(0.005)
            with cond:
                state["n"] += 1
                cond.notify_all()

    p = in_thread(producer)
    with cond:
        assert cond.wait_for(lambda: state["n"] == 3, HANG_S) is True
    p.result()


# ---- 4. Event --------------------------------------------------------------------------
def test_event_fiber_waits_for_set_from_thread(pool: fibers.SchedulerPool) -> None:
    """Event.wait parks the fiber until an OS thread sets it."""
    ev = fibers.Event()

    def body() -> tuple[bool, float]:
        t0 = time.monotonic()
        return ev.wait(HANG_S), time.monotonic() - t0

    call = in_fiber(pool, body)
    fiber = call.handle
    assert isinstance(fiber, fibers.Fiber)
    wait_until(lambda: fiber.parked)
    time.sleep(0.02)
    in_thread(ev.set).result()
    got, elapsed = call.result()
    assert got is True and ev.is_set()
    assert elapsed >= 0.015


def test_event_wait_timeout_in_fiber(pool: fibers.SchedulerPool) -> None:
    """Event.wait(timeout) in a fiber returns False after the timeout; set() afterwards still works."""
    ev = fibers.Event()

    def body() -> tuple[bool, float]:
        t0 = time.monotonic()
        return ev.wait(0.05), time.monotonic() - t0

    got, elapsed = in_fiber(pool, body).result()
    assert got is False
    assert 0.045 <= elapsed < 0.5
    ev.set()
    assert in_fiber(pool, ev.wait, 0.5).result() is True


def test_event_on_plain_thread() -> None:
    """Outside fibers it is threading.Event."""
    ev = fibers.Event()
    assert ev.wait(0.01) is False
    t = threading.Timer(0.01, ev.set)
    t.start()
    assert ev.wait(HANG_S) is True
    t.join(HANG_S)
    ev.clear()
    assert not ev.is_set()


# ---- 5. SimpleQueue --------------------------------------------------------------------
def test_simplequeue_get_in_fiber_waits_for_put_from_thread(pool: fibers.SchedulerPool) -> None:
    """get() parks the fiber until another thread puts an item."""
    q = fibers.SimpleQueue()

    def body() -> tuple[Any, float]:
        t0 = time.monotonic()
        return q.get(timeout=HANG_S), time.monotonic() - t0

    call = in_fiber(pool, body)
    fiber = call.handle
    assert isinstance(fiber, fibers.Fiber)
    wait_until(lambda: fiber.parked)
    time.sleep(0.02)
    in_thread(q.put, "hello").result()
    item, elapsed = call.result()
    assert item == "hello"
    assert elapsed >= 0.015


def test_simplequeue_get_timeout_raises_empty_in_fiber(pool: fibers.SchedulerPool) -> None:
    """get(timeout=...) raises queue.Empty after about the timeout; get(block=False) at once."""
    q = fibers.SimpleQueue()

    def body() -> float:
        with pytest.raises(queue.Empty):
            q.get(block=False)
        t0 = time.monotonic()
        with pytest.raises(queue.Empty):
            q.get(timeout=0.05)
        return time.monotonic() - t0

    elapsed = in_fiber(pool, body).result()
    assert 0.045 <= elapsed < 0.5
    with pytest.raises(queue.Empty):
        q.get(timeout=0.01)  # plain thread: queue.SimpleQueue's behaviour


def test_simplequeue_keeps_fifo_order(pool: fibers.SchedulerPool) -> None:
    """Items put from a thread while the fiber consumes arrive in order, none lost."""
    q = fibers.SimpleQueue()
    n = 300

    def consumer() -> list[int]:
        return [q.get(timeout=HANG_S) for _ in range(n)]

    call = in_fiber(pool, consumer)

    def producer() -> None:
        for i in range(n):
            q.put(i)
            if i % 50 == 0:
                time.sleep(0.001)  # let the fiber park between bursts

    in_thread(producer).result()
    assert call.result() == list(range(n))
    assert q.empty() and q.qsize() == 0


# ---- 6. maybe_yield ----------------------------------------------------------------------
def _busy(seconds: float, stop: list[bool], window: list[float],
          enough: Callable[[], bool] = lambda: False) -> None:
    """Run JS-like for ``seconds`` (or until ``enough()``), calling maybe_yield at every "poll"."""
    fiber = fibers.current()
    assert fiber is not None
    t0 = time.monotonic()
    window.append(t0)
    try:
        while time.monotonic() - t0 < seconds and not enough():
            for _ in range(200):
                pass
            fiber.maybe_yield()
    finally:
        window.append(time.monotonic())
        stop.append(True)


def test_maybe_yield_lets_deadline_parked_fiber_run(pool: fibers.SchedulerPool) -> None:
    """A busy fiber that calls maybe_yield must not starve a fiber sleeping on short deadlines."""
    stop: list[bool] = []
    window: list[float] = []
    wakes: list[float] = []

    def ticker() -> None:
        fiber = fibers.current()
        assert fiber is not None
        end = time.monotonic() + HANG_S
        while not stop and time.monotonic() < end:
            fiber.park(time.monotonic() + 0.002)
            wakes.append(time.monotonic())

    tick = in_fiber(pool, ticker, name="ticker")
    wait_until(lambda: len(wakes) >= 2)  # ticking before the busy fiber starts
    before = len(wakes)
    # busy until the ticker has run 8 more times (a slice each: ~40 ms), or for 1.5 s when
    # it never gets a turn: on a loaded machine the scheduler thread itself gets fewer
    # slices of CPU, so a count within a fixed window would be a timing test
    busy = in_fiber(pool, _busy, 1.5, stop, window, lambda: len(wakes) >= before + 8, name="busy")
    busy.result(timeout=HANG_S + 1.5)
    tick.result()
    start, end = window
    during = [w for w in wakes if start < w < end]
    assert len(during) >= 8, f"ticker ran {len(during)} times during {end - start:.2f} s of busy fiber"


def test_maybe_yield_lets_unparked_fiber_run(pool: fibers.SchedulerPool) -> None:
    """A fiber woken from another thread (a queue put) gets turns while another fiber spins."""
    stop: list[bool] = []
    window: list[float] = []
    q = fibers.SimpleQueue()
    got: list[float] = []

    def consumer() -> None:
        end = time.monotonic() + HANG_S
        while time.monotonic() < end:
            item = q.get(timeout=HANG_S)
            if item is None:
                return
            got.append(time.monotonic())

    cons = in_fiber(pool, consumer, name="consumer")
    busy = in_fiber(pool, _busy, 1.5, stop, window, lambda: len(got) >= 5, name="busy")

    def producer() -> None:
        wait_until(lambda: bool(window))
        while not stop:
            q.put(1)
            time.sleep(0.003)
        q.put(None)

    in_thread(producer).result(timeout=HANG_S + 1.5)
    busy.result(timeout=HANG_S + 1.5)
    cons.result()
    start, end = window
    during = [g for g in got if start < g < end]
    assert len(during) >= 5, f"consumer ran {len(during)} times during {end - start:.2f} s of busy fiber"


def test_maybe_yield_lets_new_fiber_start(pool: fibers.SchedulerPool) -> None:
    """A VU started on a scheduler whose other VU runs long JS starts within a few slices."""
    stop: list[bool] = []
    window: list[float] = []
    busy = in_fiber(pool, _busy, 0.12, stop, window, name="busy")
    wait_until(lambda: bool(window))
    started = in_fiber(pool, time.monotonic, name="newcomer")
    t_start = started.result()
    busy.result()
    assert t_start < window[1] - 0.05, "newcomer started only after the busy fiber finished"


# ---- 7. Inbox in fiber mode ------------------------------------------------------------
def test_inbox_wait_in_fiber_returns_item_from_thread(pool: fibers.SchedulerPool) -> None:
    """Inbox.wait in a fiber parks; put from another thread unparks it with the item."""
    inbox = Inbox()
    inbox.put("first")

    def body() -> tuple[Any, Any, float]:
        first = inbox.wait(HANG_S)  # already there: no park
        t0 = time.monotonic()
        second = inbox.wait(HANG_S)
        return first, second, time.monotonic() - t0

    call = in_fiber(pool, body)
    wait_until(lambda: inbox.sleeping)
    time.sleep(0.02)
    in_thread(inbox.put, "second").result()
    first, second, elapsed = call.result()
    assert (first, second) == ("first", "second")
    assert elapsed >= 0.015
    assert inbox._fiber is call.handle  # it waited as a fiber, not through a thread's poll


def test_inbox_wait_in_fiber_times_out(pool: fibers.SchedulerPool) -> None:
    """Inbox.wait(timeout) in a fiber raises queue.Empty after about the timeout."""
    inbox = Inbox()

    def body() -> float:
        t0 = time.monotonic()
        with pytest.raises(queue.Empty):
            inbox.wait(0.05)
        return time.monotonic() - t0

    elapsed = in_fiber(pool, body).result()
    assert 0.045 <= elapsed < 0.5


class _SockReader:
    """The smallest DirectReader: reads its socket and posts what it got to the inbox."""

    def __init__(self, sock: socket.socket, inbox: Inbox) -> None:
        self.sock = sock
        self.inbox = inbox
        self.reads = 0
        self.wanted = 0
        self.released = 0
        self.threads: set[str] = set()
        #: the last read may have left data behind (it filled its buffer)
        self.direct_more = False

    def fileno_for_direct(self) -> int:
        return self.sock.fileno()

    def read_direct(self) -> bool:
        self.reads += 1
        self.threads.add(threading.current_thread().name)
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            self.direct_more = False
            return True
        self.direct_more = len(data) == 65536
        if not data:
            return False
        self.inbox.put(data)
        return True

    def want_direct(self) -> None:
        self.wanted += 1

    def release_direct(self) -> None:
        self.released += 1


def test_inbox_direct_reader_in_fiber(pool: fibers.SchedulerPool) -> None:
    """A fiber's inbox reads its socket itself: the scheduler's epoll wakes the fiber on data,
    and after release() the scheduler no longer watches the descriptor."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    inbox = Inbox()
    reader = _SockReader(ours, inbox)
    fd = ours.fileno()
    state: dict[str, Any] = {}

    def body() -> tuple[bytes, bytes, bytes]:
        fiber = fibers.current()
        assert fiber is not None
        inbox.add_reader(reader)
        t0 = time.monotonic()
        got = inbox.wait(HANG_S)
        state["elapsed"] = time.monotonic() - t0
        state["watched"] = fiber.sched._owners.get(fd) is fiber
        # data already waiting when the fiber gets back to wait (level-triggered re-check)
        theirs.sendall(b"second")
        got2 = inbox.wait(HANG_S)
        inbox.release()
        state["owners_after"] = dict(fiber.sched._owners)
        try:
            fiber.sched._ep.modify(fd, 1)
        except FileNotFoundError:
            state["epoll_forgot"] = True
        else:
            state["epoll_forgot"] = False
        reads = reader.reads
        theirs.sendall(b"after-release")
        with pytest.raises(queue.Empty):
            inbox.wait(0.05)  # nobody reads the socket for us any more
        state["reads_after_release"] = reader.reads - reads
        return got, got2, ours.recv(100)

    call = in_fiber(pool, body)
    try:
        wait_until(lambda: inbox.sleeping)
        time.sleep(0.02)
        in_thread(theirs.sendall, b"first").result()
        got, got2, leftover = call.result()
    finally:
        ours.close()
        theirs.close()
    assert got == b"first"
    assert got2 == b"second"
    assert state["elapsed"] >= 0.015
    assert state["watched"] is True
    assert reader.wanted >= 1 and reader.released == 1
    assert len(reader.threads) == 1  # read on the scheduler thread only
    assert all(name.startswith(pool.name + "-") for name in reader.threads)
    assert fd not in state["owners_after"]
    assert state["epoll_forgot"] is True
    assert state["reads_after_release"] == 0
    assert leftover == b"after-release"


class _EofReader(_SockReader):
    """Posts ``b""`` for the peer's FIN, so a test can see that it was read."""

    def read_direct(self) -> bool:
        self.reads += 1
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return True
        self.inbox.put(data)
        return bool(data)


def test_inbox_reads_to_the_end_when_data_and_fin_came_in_one_edge(pool: fibers.SchedulerPool) -> None:
    """The scheduler's epoll is edge-triggered: data and the FIN behind it may be harvested
    before the fiber reads, and a short read of the data then leaves the FIN with no edge to
    come. The fiber must still see the end (a server closing without a close frame)."""
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    inbox = Inbox()
    reader = _EofReader(ours, inbox)

    def body() -> tuple[Any, Any]:
        fiber = fibers.current()
        assert fiber is not None
        inbox.add_reader(reader)
        inbox.put("ready")
        assert inbox.wait(HANG_S) == "ready"  # the scheduler watches the socket now
        with pytest.raises(queue.Empty):
            inbox.wait(0.01)  # (its first look at the new socket is done)
        theirs.sendall(b"last")
        theirs.shutdown(socket.SHUT_WR)
        fiber.park(time.monotonic() + 0.05)  # not in the inbox: both edges are harvested meanwhile
        first = inbox.wait(HANG_S)
        try:
            second = inbox.wait(0.5)
        except queue.Empty:
            second = "no end seen"
        return first, second

    try:
        first, second = in_fiber(pool, body).result()
    finally:
        ours.close()
        theirs.close()
    assert first == b"last"
    assert second == b""
