"""Non-blocking socket reads and writes that keep the GIL.

``socket.send``/``recv`` release the GIL around the system call. On a non-blocking socket
the call never waits, but releasing the GIL while other threads want it hands it over:
the other thread is woken, and this one must queue for the GIL again when the call
returns — two futex operations and usually two context switches for a call that takes a
few microseconds. With dozens of VU threads reading their own sockets (the chat
workload: 50 VUs x 4 sockets) those hand-offs were most of the process's futex calls and
a third of its CPU time (``perf stat`` / ``perf record -e syscalls:sys_enter_futex``).

Calling libc through ``ctypes.PyDLL`` keeps the GIL for the call. Only for plain-TCP,
non-blocking sockets (TLS goes through the ``ssl`` module); where libc cannot be loaded
``available`` is False and callers use the socket methods (``JSRUNNER_HELDIO=0`` does the
same, for A/B measurements).

Callers pass a descriptor, not a socket object, so the descriptor must stay the socket's for
the whole call: hold the lock that guards closing it (``WebSocketConnection._lock``; its
teardown closes the socket under that lock). Otherwise the GIL could pass to a thread that
closes the socket, and the number could be reused by a new one, between ``fileno()`` and
the system call.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import select
import sys
import threading

available = False
_WANT = os.environ.get("JSRUNNER_HELDIO", "1") != "0"

if _WANT and sys.platform.startswith("linux"):
    try:
        _libc = ctypes.PyDLL(None, use_errno=True)
        _send = _libc.send
        _recv = _libc.recv
        _poll = _libc.poll
        _epoll_ctl = _libc.epoll_ctl
        _epoll_wait = _libc.epoll_wait
    except (OSError, AttributeError):  # pragma: no cover - unusual libc
        pass
    else:
        _send.restype = ctypes.c_ssize_t
        _send.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
        _recv.restype = ctypes.c_ssize_t
        _recv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        _poll.restype = ctypes.c_int
        _poll.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int]
        available = True

#: MSG_DONTWAIT | MSG_NOSIGNAL: never block, a closed peer is EPIPE (not SIGPIPE)
_SEND_FLAGS = 0x40 | 0x4000
_RECV_FLAGS = 0x40
RECV_SIZE = 65536
# One receive buffer for the whole process (64 KiB per thread would be 64 MB for 1,000 VU
# threads). The GIL does not make "recv into it, then copy out" atomic: the interpreter may
# switch threads between the two calls, and another reader would overwrite the buffer
# first. The lock closes that gap; it is almost never contended (a switch has to land
# exactly there), and a thread that finds it taken blocks, which lets the holder finish.
_buf = ctypes.create_string_buffer(RECV_SIZE) if available else None
_buf_lock = threading.Lock()
_string_at = ctypes.string_at
_get_errno = ctypes.get_errno


def _error() -> OSError:
    err = _get_errno()
    return OSError(err, os.strerror(err))  # maps to BlockingIOError, ConnectionResetError...


def send(fd: int, data: bytes) -> int:
    """Bytes written (may be fewer than ``len(data)``); raises like ``socket.send``."""
    n = _send(fd, data, len(data), _SEND_FLAGS)
    if n < 0:
        raise _error()
    return n


def recv(fd: int) -> bytes:
    """Up to :data:`RECV_SIZE` bytes; ``b""`` at EOF; raises like ``socket.recv``."""
    with _buf_lock:
        n = _recv(fd, _buf, RECV_SIZE, _RECV_FLAGS)
        if n < 0:
            raise _error()
        return _string_at(_buf, n)


class _PollFd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


class ReadyCheck:
    """``poll(fds, 0)`` without releasing the GIL: which of a few descriptors are ready now.

    The inbox asks this right after a wake-up (did a broadcast reach more of the VU's
    sockets?); ``select.poll().poll(0)`` would release the GIL for it (see the module
    docstring). The descriptor set changes rarely, so the C array is rebuilt lazily.
    """

    def __init__(self) -> None:
        self._events: dict[int, int] = {}
        self._array: ctypes.Array[_PollFd] | None = None

    def register(self, fd: int, events: int) -> None:
        self._events[fd] = events
        self._array = None

    def unregister(self, fd: int) -> None:
        if self._events.pop(fd, None) is not None:
            self._array = None

    def ready(self) -> list[tuple[int, int]]:
        """``(fd, revents)`` of the ready descriptors, as ``select.poll().poll(0)``."""
        arr = self._array
        if arr is None:
            arr = self._array = (_PollFd * len(self._events))(
                *((fd, ev, 0) for fd, ev in self._events.items()))
        n = len(arr)
        if _poll(arr, n, 0) <= 0:
            return []
        return [(p.fd, p.revents) for p in arr if p.revents]


# ---- epoll_ctl keeping the GIL ----------------------------------------------------------
# The I/O loop changes a socket's interest several times while it dials and when its owner
# VU takes over or gives back reading; ``select.epoll`` releases the GIL around each
# ``epoll_ctl``. While a storm of VU threads wants the GIL (1,000 VUs dialing, or ending,
# together) every release handed it to one of them and the loop thread then queued for it
# again: connects took ~0.4 s each and the futex traffic cost more CPU than the dialing.
# ``epoll_ctl`` never blocks. Little-endian Linux only (the event layout below).

class _EpollEvent(ctypes.Structure):
    """``struct epoll_event``: packed on x86-64 (12 bytes), naturally aligned elsewhere."""

    if platform.machine() in ("x86_64", "AMD64", "i386", "i686"):
        _pack_ = 1
    _fields_ = [("events", ctypes.c_uint32), ("data", ctypes.c_uint64)]


epoll_available = available and sys.byteorder == "little" and hasattr(select, "epoll")
if epoll_available:
    _epoll_ctl.restype = ctypes.c_int
    _epoll_ctl.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.POINTER(_EpollEvent)]
    _epoll_wait.restype = ctypes.c_int
    _epoll_wait.argtypes = [ctypes.c_int, ctypes.POINTER(_EpollEvent), ctypes.c_int, ctypes.c_int]

_CTL_ADD, _CTL_DEL, _CTL_MOD = 1, 2, 3


class ReadyNow:
    """What an epoll has ready now (``epoll_wait`` with timeout 0), keeping the GIL.

    For the fiber scheduler (jsrunner/fibers.py), which looks between two rounds of busy
    fibers. Releasing the GIL there, every few milliseconds, did worse than cost a
    hand-off: each release and re-take counts as a GIL switch, so a thread queued for
    the GIL (the I/O loop, the metrics collector, an executor's clock) never asked for a
    forced switch and waited for as long as the fibers stayed busy. One thread's use.
    """

    def __init__(self, epfd: int, size: int = 256) -> None:
        self._epfd = epfd
        self._size = size
        self._evs = (_EpollEvent * size)()

    def poll(self) -> list[tuple[int, int]]:
        n = _epoll_wait(self._epfd, self._evs, self._size, 0)
        if n < 0:
            if _get_errno() == errno.EINTR:
                return []
            raise _error()
        evs = self._evs
        return [(evs[i].data & 0xFFFFFFFF, evs[i].events) for i in range(n)]


class HeldEpoll:
    """``select.epoll`` whose register/modify/unregister keep the GIL; ``poll`` (which
    blocks) still releases it. The data word carries the fd, as ``select.epoll`` sets it.
    Only where :data:`epoll_available`."""

    def __init__(self) -> None:
        self._ep = select.epoll()
        self._epfd = self._ep.fileno()
        self._ev = _EpollEvent()
        self.poll = self._ep.poll

    def _ctl(self, op: int, fd: int, events: int) -> None:
        ev = self._ev  # only the loop thread changes interest: one struct is enough
        ev.events = events
        ev.data = fd
        if _epoll_ctl(self._epfd, op, fd, ev) < 0:
            raise _error()

    def register(self, fd: int, events: int) -> None:
        self._ctl(_CTL_ADD, fd, events)

    def modify(self, fd: int, events: int) -> None:
        self._ctl(_CTL_MOD, fd, events)

    def unregister(self, fd: int) -> None:
        self._ctl(_CTL_DEL, fd, 0)

    def fileno(self) -> int:
        return self._epfd

    def close(self) -> None:
        self._ep.close()
