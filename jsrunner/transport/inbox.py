"""A VU's inbox that can also read the VU's own sockets while the VU waits.

Events for a VU (socket events, timers' wake-ups, executor commands) are posted to its
inbox from any thread; the VU thread takes them between two JS callbacks. Before this,
every received WebSocket frame crossed two threads: the shared I/O thread read and parsed
it, then woke the VU thread. On a 2-core machine those hand-offs (futex wake-up, GIL
transfer, a scheduler slice each) cost more than the work itself: an echo round trip
spent ~64 µs of CPU and more than twice that in wall time.

So a VU that owns plain-TCP WebSockets waits for its inbox *and* its sockets in one
``poll`` (plus an eventfd that posters signal): a frame that arrives while the VU is idle
is read, parsed and dispatched on the VU thread, without any hand-off. The transport
(:mod:`jsrunner.transport.client`) keeps reading a socket on its I/O thread while the
VU is busy elsewhere for long (see :data:`BUSY_HANDOVER_S`), so pings are still answered
and back-pressure works as before.

Without readers this is a plain ``SimpleQueue`` wait (no file descriptor at all).

When the VU runs as a fiber (:mod:`jsrunner.fibers`, several VUs per OS thread) it parks
instead: posters unpark it, and its scheduler's one epoll (edge-triggered) unparks it when
one of its sockets gets data. The VU reads the sockets the scheduler reported; where a
read may have left data that no further edge will announce (the read budget ran out, or
the peer's FIN came with the data), it looks over all its sockets level-triggered (a
GIL-keeping ``poll(0)``) before it parks again.
"""

from __future__ import annotations

import collections
import os
import queue
import select
import threading
import time
from typing import Any, Protocol

from .. import fibers
from . import heldio

#: a VU that has not waited on its inbox for this long is "busy": the I/O thread reads its
#: sockets again (pongs, close handshakes and TCP flow control keep working meanwhile)
BUSY_HANDOVER_S = 0.05

_POLLIN = select.POLLIN
_POLL_GONE = select.POLLNVAL


class DirectReader(Protocol):
    """What :meth:`Inbox.add_reader` accepts (``WebSocketConnection``)."""

    def fileno_for_direct(self) -> int: ...

    def read_direct(self) -> bool: ...

    def want_direct(self) -> None: ...

    def release_direct(self) -> None: ...

    #: the last ``read_direct`` stopped with data possibly left (its read budget ran out)
    direct_more: bool


class Inbox:
    """``put`` from any thread; ``get_nowait``/``empty``/``wait`` on the owner's thread."""

    def __init__(self) -> None:
        self._q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        #: True while the owner thread is (about to be) blocked in ``poll``
        self.sleeping = False
        #: monotonic time the owner last stopped waiting (read by the I/O thread)
        self.busy_since = time.monotonic()
        #: set by the I/O thread when it took over reading some of our sockets
        self.reclaim = False
        self._efd: int | None = None
        self._efd_lock = threading.Lock()
        self._poll: Any = None
        #: the same descriptors as ``_poll``, for checks that must not release the GIL
        self._check: heldio.ReadyCheck | None = heldio.ReadyCheck() if heldio.available else None
        self._readers: dict[int, DirectReader] = {}
        self._adds: collections.deque[DirectReader] = collections.deque()
        #: the fiber that owns this inbox once it waits as one (its scheduler watches our
        #: sockets); None: an OS thread of its own
        self._fiber: fibers.Fiber | None = None
        #: a read may have left data behind, or an edge may have been missed: check every
        #: socket (level-triggered) before parking
        self._recheck = False
        #: a read of the last round stopped with data left (its budget ran out)
        self._more = False

    # ---- any thread -------------------------------------------------------------------
    def put(self, item: Any) -> None:
        self._q.put(item)
        if self.sleeping:
            fiber = self._fiber
            if fiber is not None:
                fiber.unpark()
                return
            with self._efd_lock:
                efd = self._efd
                if efd is not None:
                    try:
                        os.eventfd_write(efd, 1)
                    except OSError:
                        pass

    def add_reader(self, reader: DirectReader) -> None:
        """Let the owner read ``reader``'s socket while it waits (applied at its next wait).

        Called by the transport once the socket is open; the ``open`` event it posts
        right after wakes the owner, who then starts polling the socket.
        """
        self._adds.append(reader)

    # ---- owner thread -----------------------------------------------------------------
    def empty(self) -> bool:
        return self._q.empty()

    def get_nowait(self) -> Any:
        return self._q.get_nowait()

    def has_readers(self) -> bool:
        return bool(self._readers) or bool(self._adds)

    def wait(self, timeout: float | None) -> Any:
        """The next item; raises ``queue.Empty`` after ``timeout`` seconds (None: no limit)."""
        fiber = fibers.current()
        if fiber is not None:
            return self._wait_parked(fiber, timeout)
        if self._fiber is not None:
            self._detach()
        if self._adds:
            self._apply_adds()
        if not self._readers:
            if self._efd is not None:
                self._close_efd()
            return self._q.get(timeout=timeout)
        if self.reclaim:
            self.reclaim = False
            for reader in list(self._readers.values()):
                reader.want_direct()
        q = self._q
        deadline = None if timeout is None else time.monotonic() + timeout
        ms = -1 if timeout is None else max(0, int(timeout * 1000.0 + 0.999))
        while True:
            self.sleeping = True
            if not q.empty():
                self.sleeping = False
                return q.get_nowait()
            try:
                ready = self._poll.poll(ms)
            finally:
                self.sleeping = False
                self.busy_since = time.monotonic()
            if self._handle_ready(ready) and len(self._readers) > 1:
                # sockets that became readable while those were read (a broadcast reaching
                # several sockets of this VU): one batch for JS instead of one each
                check = self._check
                self._handle_ready(check.ready() if check is not None else self._poll.poll(0))
            if not q.empty():
                return q.get_nowait()
            if self._adds:
                self._apply_adds()
            if not self._readers:
                return self._q.get(timeout=None if deadline is None
                                   else max(0.0, deadline - time.monotonic()))
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise queue.Empty
                ms = max(0, int(left * 1000.0 + 0.999))

    def _wait_parked(self, fiber: fibers.Fiber, timeout: float | None) -> Any:
        """:meth:`wait` for a fiber: park on the scheduler, which watches our sockets."""
        if self._fiber is not fiber:
            self._adopt(fiber)
        if self._adds:
            self._apply_adds()
        if self.reclaim:
            self.reclaim = False
            for reader in list(self._readers.values()):
                reader.want_direct()
            self._recheck = True
        q = self._q
        deadline = None if timeout is None else time.monotonic() + timeout
        check = self._check
        while True:
            if not q.empty():
                return q.get_nowait()
            fds = fiber.io_fds
            if fds:
                # the sockets the scheduler saw get data (one epoll_wait harvests every socket
                # of a broadcast that reached several of ours: one batch for JS). A second
                # look over all our sockets here, as the thread path does, found nothing in
                # 97% of the chat benchmark's wake-ups.
                fiber.io_fds = set()
                self._more = False
                self._handle_ready([(fd, _POLLIN) for fd in fds])
                if self._more or fiber.io_ended:
                    fiber.io_ended = False
                    self._recheck = True  # read on until a look finds nothing left
                continue
            if self._recheck:
                self._recheck = False
                if self._readers:
                    self._more = False
                    self._handle_ready(check.ready() if check is not None else self._poll.poll(0))
                    if self._more:
                        self._recheck = True  # a read left data behind: look again
                    continue
            if self._adds:
                self._apply_adds()
                continue
            self.sleeping = True
            fiber.wants_io = True
            if not q.empty() or fiber.io_fds:
                self.sleeping = False
                fiber.wants_io = False
                continue
            fiber.park(deadline)
            self.sleeping = False
            fiber.wants_io = False
            self.busy_since = time.monotonic()
            if (deadline is not None and not fiber.io_fds and q.empty()
                    and time.monotonic() >= deadline):
                raise queue.Empty

    def _adopt(self, fiber: fibers.Fiber) -> None:
        """Start waiting as ``fiber``: its scheduler watches the sockets from now on."""
        if self._fiber is not None:
            for fd in self._readers:
                self._fiber.sched.unwatch(fd, self._fiber)
        self._fiber = fiber
        for fd in list(self._readers):
            try:
                fiber.sched.watch(fd, fiber)
            except OSError:
                self._drop(fd)
        self._recheck = True

    def _detach(self) -> None:
        """A thread waits on an inbox a fiber used before: its own poll takes the sockets."""
        readers, self._readers = self._readers, {}
        for fd, reader in readers.items():
            self._forget(fd)
            self._adds.append(reader)
        self._fiber = None

    def _handle_ready(self, ready: list[tuple[int, int]]) -> bool:
        """Read every ready socket; True when some socket was read."""
        read = False
        for fd, mask in ready:
            if fd == self._efd:
                try:
                    os.eventfd_read(fd)
                except (BlockingIOError, OSError):
                    pass
                continue
            reader = self._readers.get(fd)
            read = True
            if reader is None or mask & _POLL_GONE or not reader.read_direct():
                self._drop(fd)
            elif reader.direct_more:
                self._more = True
        return read

    def _apply_adds(self) -> None:
        while self._adds:
            reader = self._adds.popleft()
            try:
                fd = reader.fileno_for_direct()
            except (OSError, ValueError):
                continue
            if fd < 0:
                continue
            if self._poll is None:
                self._poll = select.poll()
            if self._fiber is not None:
                try:
                    self._fiber.sched.watch(fd, self._fiber)
                except OSError:
                    continue  # the I/O thread keeps reading it
                self._recheck = True  # a first look: data may be there already
            elif self._efd is None:
                try:
                    efd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
                except OSError:
                    continue  # out of descriptors: the I/O thread keeps reading it
                with self._efd_lock:
                    self._efd = efd
                self._register(efd, _POLLIN)
            old = self._readers.get(fd)
            if old is not None and old is not reader:
                self._unregister(fd)
            self._readers[fd] = reader
            self._register(fd, _POLLIN)
            reader.want_direct()

    def _register(self, fd: int, events: int) -> None:
        self._poll.register(fd, events)
        if self._check is not None:
            self._check.register(fd, events)

    def _unregister(self, fd: int) -> None:
        try:
            self._poll.unregister(fd)
        finally:
            if self._check is not None:
                self._check.unregister(fd)

    def _forget(self, fd: int) -> None:
        """Stop looking at ``fd`` (the scheduler's watch included); it may be closed already."""
        if self._fiber is not None:
            self._fiber.sched.unwatch(fd, self._fiber)
        try:
            self._unregister(fd)
        except (KeyError, ValueError, OSError):
            pass

    def _drop(self, fd: int) -> None:
        if self._readers.pop(fd, None) is not None:
            self._forget(fd)

    def release(self) -> None:
        """The owner shuts down: hand every socket back to the I/O thread, free the eventfd."""
        self._adds.clear()
        readers, self._readers = self._readers, {}
        for fd, reader in readers.items():
            self._forget(fd)
            reader.release_direct()
        self._close_efd()

    def __del__(self) -> None:
        efd = getattr(self, "_efd", None)
        if efd is not None:
            self._efd = None
            try:
                os.close(efd)
            except OSError:
                pass

    def _close_efd(self) -> None:
        with self._efd_lock:
            efd, self._efd = self._efd, None
        if efd is not None:
            try:
                if self._poll is not None:
                    self._unregister(efd)
            except (KeyError, ValueError, OSError):
                pass
            os.close(efd)
