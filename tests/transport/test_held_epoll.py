"""The I/O loop's selector: epoll whose interest changes keep the GIL (heldio.HeldEpoll)."""

from __future__ import annotations

import selectors
import socket

import pytest

from jsrunner.transport import client, heldio, hub

pytestmark = pytest.mark.skipif(not heldio.epoll_available, reason="needs Linux epoll through libc")


def test_the_loop_selector_reports_readiness_and_follows_interest_changes() -> None:
    sel = hub._new_selector()
    assert isinstance(sel._selector, heldio.HeldEpoll)  # type: ignore[attr-defined]
    a, b = socket.socketpair()
    try:
        sel.register(a, selectors.EVENT_WRITE, "w")
        ready = sel.select(0)
        assert [(k.fileobj, m, k.data) for k, m in ready] == [(a, selectors.EVENT_WRITE, "w")]
        sel.modify(a, selectors.EVENT_READ, "r")
        assert sel.select(0) == []  # nothing to read yet
        b.send(b"x")
        ready = sel.select(1.0)
        assert [(k.fileobj, m, k.data) for k, m in ready] == [(a, selectors.EVENT_READ, "r")]
        sel.unregister(a)
        assert sel.select(0) == []
    finally:
        sel.close()
        a.close()
        b.close()


def test_kernel_errors_surface_as_oserror() -> None:
    ep = heldio.HeldEpoll()
    a, b = socket.socketpair()
    try:
        ep.register(a.fileno(), 1)
        with pytest.raises(FileExistsError):
            ep.register(a.fileno(), 1)
        ep.unregister(a.fileno())
        with pytest.raises(FileNotFoundError):
            ep.unregister(a.fileno())
        with pytest.raises(FileNotFoundError):
            ep.modify(b.fileno(), 1)
    finally:
        ep.close()
        a.close()
        b.close()


def test_handshake_nonces_are_fresh() -> None:
    keys = {client._nonce16() for _ in range(600)}  # more than one 4 KiB pool
    assert len(keys) == 600 and all(len(k) == 16 for k in keys)
