"""Shared I/O threads for all WebSockets of a process.

One :class:`TransportHub` owns a few selector loops (default: one thread) that dial,
read and write every socket without blocking, plus a small pool of resolver threads
(``getaddrinfo`` cannot be made non-blocking) behind a 5-minute DNS cache, like k6's.
A per-socket reader thread (websocket-client's model) made 1,000 simultaneous connects
cost several CPU-seconds and 1,000 threads; see bench/bench_transport.py.

The VU runtime calls :func:`shutdown` at the end of a run: every socket is aborted
(best-effort Close 1000, no events), every thread joined.  A later connection starts a
fresh default hub.
"""

from __future__ import annotations

import collections
import heapq
import itertools
import logging
import queue
import selectors
import socket
import threading
import time
from typing import Any, Callable

from . import heldio
from .inbox import BUSY_HANDOVER_S

log = logging.getLogger("jsrunner.transport")

DNS_CACHE_TTL = 300.0


class _Timer:
    __slots__ = ("when", "fn", "args", "cancelled")

    def __init__(self, when: float, fn: Callable, args: tuple) -> None:
        self.when, self.fn, self.args, self.cancelled = when, fn, args, False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: "_Timer") -> bool:
        return self.when < other.when


#: thread id -> the IOLoop running in it (a threading.local lookup of a missing attribute
#: raised and caught an AttributeError on every call from a VU thread)
_loops_by_thread: dict[int, "IOLoop"] = {}
_get_ident = threading.get_ident


def current_loop() -> "IOLoop | None":
    """The :class:`IOLoop` whose thread is calling, else None."""
    return _loops_by_thread.get(_get_ident())


def _new_selector() -> selectors.BaseSelector:
    """The loop's selector: epoll with GIL-keeping interest changes where possible."""
    sel = selectors.DefaultSelector()
    if heldio.epoll_available and isinstance(sel, selectors.EpollSelector):
        plain = sel._selector  # type: ignore[attr-defined]
        sel._selector = heldio.HeldEpoll()  # type: ignore[attr-defined]
        plain.close()
    return sel


class IOLoop:
    """A selector loop in its own thread.  ``call_soon`` is thread-safe; everything else
    (``register``/``modify``/``unregister``/``call_later``) must run on the loop thread."""

    def __init__(self, name: str) -> None:
        self.sel = _new_selector()
        self._rsock, self._wsock = socket.socketpair()
        #: the wake-up socket's read end for heldio (read on the loop thread only, which
        #: also closes it); -1: use the socket methods. The write end stays a socket
        #: method call: any thread may wake the loop, also after it closed its sockets,
        #: and a bare descriptor could by then belong to another socket.
        self._wake_fd = self._rsock.fileno() if heldio.available else -1
        self._rsock.setblocking(False)
        self._wsock.setblocking(False)
        self.sel.register(self._rsock, selectors.EVENT_READ, None)
        self._calls: collections.deque = collections.deque()
        self._wake_pending = False
        self._timers: list[_Timer] = []
        self._stopping = False
        self._deferred: list[Callable[[], Any]] = []
        #: sockets read by their owning VU thread (inbox.py), checked for a busy owner;
        #: by owner inbox
        self._watched: dict[Any, set] = {}
        self._watch_timer: _Timer | None = None
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.thread.start()

    # -- thread-safe
    def call_soon(self, fn: Callable, *args: Any) -> None:
        self._calls.append((fn, args))
        if not self._wake_pending:
            self._wake_pending = True
            try:
                self._wsock.send(b"\0")
            except (BlockingIOError, OSError):
                pass

    def in_loop(self) -> bool:
        return threading.current_thread() is self.thread

    def stop(self) -> None:
        self.call_soon(self._set_stopping)

    def _set_stopping(self) -> None:
        self._stopping = True

    # -- loop thread only
    def defer(self, fn: Callable[[], Any]) -> None:
        """Run ``fn`` once the current loop iteration has handled every ready socket.

        For waking consumers (VU threads): woken one by one in the middle of a batch, they
        would compete for the GIL with this thread, which releases it on every ``recv``.
        """
        self._deferred.append(fn)

    def watch(self, conn: Any) -> None:
        """Check ``conn.check_owner_busy`` every ``BUSY_HANDOVER_S`` while it returns True."""
        inbox = getattr(conn, "_inbox", None)
        conns = self._watched.get(inbox)
        if conns is None:
            conns = self._watched[inbox] = set()
        conns.add(conn)
        if self._watch_timer is None:
            self._watch_timer = self.call_later(BUSY_HANDOVER_S, self._check_watched)

    def unwatch(self, conn: Any) -> None:
        """``conn`` is closed: stop checking it."""
        inbox = getattr(conn, "_inbox", None)
        conns = self._watched.get(inbox)
        if conns is not None:
            conns.discard(conn)
            if not conns:
                del self._watched[inbox]

    def _check_watched(self) -> None:
        """Ask the sockets of owners that stopped waiting whether to take them back.

        Grouped by owner inbox: an owner that is waiting now, or waited within the last
        ``BUSY_HANDOVER_S``, is skipped without visiting its sockets (1,000 idle VUs: one
        comparison each, 20 times a second, instead of a method call per socket). Closed
        sockets leave through ``unwatch``.
        """
        self._watch_timer = None
        now = time.monotonic()
        watched = self._watched
        limit = BUSY_HANDOVER_S
        for inbox, conns in list(watched.items()):
            if inbox is not None and (inbox.sleeping or now - inbox.busy_since <= limit):
                continue  # check_owner_busy would keep every one of them
            for conn in list(conns):
                if not conn.check_owner_busy(now, limit):
                    conns.discard(conn)
            if not conns:
                del watched[inbox]
        if watched:
            self._watch_timer = self.call_later(BUSY_HANDOVER_S, self._check_watched)

    def call_later(self, delay: float, fn: Callable, *args: Any) -> _Timer:
        t = _Timer(time.monotonic() + delay, fn, args)
        heapq.heappush(self._timers, t)
        return t

    def _run(self) -> None:
        _loops_by_thread[_get_ident()] = self
        sel = self.sel
        calls = self._calls
        timers = self._timers
        while True:
            if calls:
                timeout: float | None = 0
            elif timers:
                timeout = max(0.0, timers[0].when - time.monotonic())
            else:
                timeout = None
            try:
                events = sel.select(timeout)
            except OSError:  # pragma: no cover
                events = []
            for key, mask in events:
                cb = key.data
                if cb is None:
                    try:
                        if self._wake_fd >= 0:
                            heldio.recv(self._wake_fd)  # a few bytes at most
                        else:
                            while self._rsock.recv(4096):
                                pass
                    except (BlockingIOError, OSError):
                        pass
                    self._wake_pending = False
                    continue
                try:
                    cb(mask)
                except Exception:  # pragma: no cover - a bug in a callback
                    log.exception("websocket I/O callback failed")
            for _ in range(len(calls)):
                fn, args = calls.popleft()
                try:
                    fn(*args)
                except Exception:  # pragma: no cover
                    log.exception("websocket loop call failed")
            if timers:
                now = time.monotonic()
                while timers and timers[0].when <= now:
                    t = heapq.heappop(timers)
                    if not t.cancelled:
                        try:
                            t.fn(*t.args)
                        except Exception:  # pragma: no cover
                            log.exception("websocket timer failed")
            if self._deferred:
                deferred, self._deferred = self._deferred, []
                for fn in deferred:
                    try:
                        fn()
                    except Exception:  # pragma: no cover
                        log.exception("websocket deferred call failed")
            if self._stopping and not calls:
                break
        _loops_by_thread.pop(_get_ident(), None)
        try:
            sel.close()
        finally:
            self._rsock.close()
            self._wsock.close()


class _Resolver:
    """A few daemon threads running ``getaddrinfo``; results delivered with ``call_soon``."""

    def __init__(self, threads: int, prefix: str) -> None:
        self._q: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._run, name=f"{prefix}-dns-{i}",
                                          daemon=True) for i in range(threads)]
        for t in self._threads:
            t.start()

    def submit(self, host: str, port: int, loop: IOLoop, cb: Callable) -> None:
        self._q.put((host, port, loop, cb))

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            host, port, loop, cb = item
            try:
                res: Any = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            except OSError as e:
                res = e
            loop.call_soon(cb, res)

    def stop(self, timeout: float) -> list[threading.Thread]:
        for _ in self._threads:
            self._q.put(None)
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        return [t for t in self._threads if t.is_alive()]


class TransportHub:
    """Owns the I/O loop threads, the resolver threads and the set of live sockets."""

    _ids = itertools.count(1)

    def __init__(self, loops: int = 1, resolver_threads: int = 4) -> None:
        self.name = f"jsrunner-ws{next(self._ids)}"
        self._n_loops = max(1, loops)
        self._n_resolvers = resolver_threads
        self._loops: list[IOLoop] = []
        self._resolver: _Resolver | None = None
        self._rr = itertools.count()
        self._lock = threading.Lock()
        self._conns: set = set()
        self._dns: dict[tuple[str, int], tuple[float, list]] = {}
        self.closed = False

    def loop(self) -> IOLoop:
        loops = self._loops
        if loops and not self.closed:  # no lock once started: VUs dial all at once
            return loops[next(self._rr) % len(loops)]
        with self._lock:
            if self.closed:
                raise RuntimeError("transport hub is shut down")
            if not self._loops:
                self._loops = [IOLoop(f"{self.name}-io-{i}") for i in range(self._n_loops)]
            return self._loops[next(self._rr) % len(self._loops)]

    # set.add/discard/list(set) are atomic under the GIL: no lock (1,000 VUs dialing on the
    # same tick queued on it, each wait a GIL hand-off)
    def add(self, conn: Any) -> None:
        self._conns.add(conn)

    def discard(self, conn: Any) -> None:
        self._conns.discard(conn)

    def connections(self) -> list:
        return list(self._conns)

    def resolve(self, host: str, port: int, loop: IOLoop, cb: Callable) -> None:
        """``cb(list_of_addrinfo | OSError)`` is called on ``loop``."""
        key = (host, port)
        hit = self._dns.get(key)
        if hit and hit[0] > time.monotonic():
            loop.call_soon(cb, hit[1])
            return

        def store(res: Any) -> None:
            if not isinstance(res, Exception):
                self._dns[key] = (time.monotonic() + DNS_CACHE_TTL, res)
            cb(res)

        with self._lock:
            if self._resolver is None:
                self._resolver = _Resolver(self._n_resolvers, self.name)
            resolver = self._resolver
        resolver.submit(host, port, loop, store)

    def threads(self) -> list[threading.Thread]:
        out = [lp.thread for lp in self._loops]
        if self._resolver:
            out += self._resolver._threads
        return out

    def shutdown(self, timeout: float = 5.0) -> None:
        """Abort every socket (best-effort Close 1000, no events), stop and join all threads."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            conns = list(self._conns)
        for c in conns:
            c.abort()
        deadline = time.monotonic() + timeout
        for c in conns:
            c.join(max(0.0, deadline - time.monotonic()))
        for lp in self._loops:
            lp.stop()
        for lp in self._loops:
            lp.thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [lp.thread for lp in self._loops if lp.thread.is_alive()]
        if self._resolver:
            # a getaddrinfo in progress cannot be interrupted; its daemon thread is left
            stuck += self._resolver.stop(max(0.1, deadline - time.monotonic()))
        if stuck:
            log.warning("websocket transport: %d thread(s) did not stop: %s",
                        len(stuck), ", ".join(t.name for t in stuck))


_default_hub: TransportHub | None = None
_default_lock = threading.Lock()


def get_hub() -> TransportHub:
    """The process-wide hub (created on first use, and again after :func:`shutdown`)."""
    global _default_hub
    with _default_lock:
        if _default_hub is None or _default_hub.closed:
            _default_hub = TransportHub()
        return _default_hub


def shutdown(timeout: float = 5.0) -> None:
    """End of run: abort all sockets of the default hub and join its threads."""
    global _default_hub
    with _default_lock:
        hub, _default_hub = _default_hub, None
    if hub is not None:
        hub.shutdown(timeout)
