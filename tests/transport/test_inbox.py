"""The VU inbox that also reads the VU's own sockets while it waits (transport/inbox.py)."""

from __future__ import annotations

import queue
import socket
import threading

import pytest

from jsrunner.transport.inbox import Inbox


class FakeReader:
    """A socketpair end standing in for a WebSocketConnection in direct mode."""

    #: reads everything there is at once (no read budget)
    direct_more = False

    def __init__(self, inbox: Inbox, keep: bool = True) -> None:
        self.a, self.b = socket.socketpair()
        self.a.setblocking(False)
        self.inbox = inbox
        self.keep = keep
        self.reads: list[bytes] = []
        self.wanted = 0
        self.released = 0

    def fileno_for_direct(self) -> int:
        return self.a.fileno()

    def read_direct(self) -> bool:
        try:
            data = self.a.recv(4096)
        except BlockingIOError:
            return True
        self.reads.append(data)
        self.inbox.put(("msg", data))  # what the binding does with an event
        return self.keep and bool(data)

    def want_direct(self) -> None:
        self.wanted += 1

    def release_direct(self) -> None:
        self.released += 1

    def close(self) -> None:
        self.a.close()
        self.b.close()


def test_without_readers_it_is_a_queue() -> None:
    box = Inbox()
    box.put(1)
    assert not box.empty()
    assert box.wait(0) == 1
    with pytest.raises(queue.Empty):
        box.wait(0.01)
    assert not box.has_readers()


def test_a_reader_is_polled_once_added_and_asked_to_go_direct() -> None:
    box = Inbox()
    r = FakeReader(box)
    try:
        box.add_reader(r)
        assert box.has_readers()
        r.b.send(b"hello")
        assert box.wait(5) == ("msg", b"hello")
        assert r.wanted == 1
        assert r.reads == [b"hello"]
    finally:
        r.close()


def test_queued_items_come_before_reading() -> None:
    box = Inbox()
    r = FakeReader(box)
    try:
        box.add_reader(r)
        r.b.send(b"x")
        box.put("first")
        assert box.wait(5) == "first"
        assert box.wait(5) == ("msg", b"x")
    finally:
        r.close()


def test_put_from_another_thread_wakes_a_poll() -> None:
    box = Inbox()
    r = FakeReader(box)
    got: list = []
    try:
        box.add_reader(r)
        t = threading.Thread(target=lambda: got.append(box.wait(None)))
        t.start()
        for _ in range(500):  # until the waiter sleeps in poll
            if box.sleeping:
                break
            threading.Event().wait(0.01)
        box.put("wake")
        t.join(10)
        assert not t.is_alive()
        assert got == ["wake"]
    finally:
        r.close()


def test_timeout_with_readers_raises_empty() -> None:
    box = Inbox()
    r = FakeReader(box)
    try:
        box.add_reader(r)
        with pytest.raises(queue.Empty):
            box.wait(0.02)
    finally:
        r.close()


def test_a_reader_that_is_done_is_dropped_and_the_eventfd_freed() -> None:
    box = Inbox()
    r = FakeReader(box, keep=False)
    try:
        box.add_reader(r)
        r.b.send(b"last")
        assert box.wait(5) == ("msg", b"last")
        assert not box.has_readers()
        with pytest.raises(queue.Empty):
            box.wait(0)  # back to a plain queue: the eventfd is closed
        assert box._efd is None
    finally:
        r.close()


def test_release_hands_every_reader_back() -> None:
    box = Inbox()
    r1, r2 = FakeReader(box), FakeReader(box)
    try:
        box.add_reader(r1)
        box.add_reader(r2)
        box.put("x")
        assert box.wait(0) == "x"  # applies the additions
        box.release()
        assert (r1.released, r2.released) == (1, 1)
        assert not box.has_readers()
        assert box._efd is None
    finally:
        r1.close()
        r2.close()


def test_a_closed_descriptor_is_dropped() -> None:
    box = Inbox()
    r = FakeReader(box)
    box.add_reader(r)
    box.put("x")
    assert box.wait(0) == "x"
    r.close()  # POLLNVAL on the next poll
    with pytest.raises(queue.Empty):
        box.wait(0.01)
    assert not box.has_readers()


class BroadcastReader(FakeReader):
    """Reading it makes data arrive on ``then`` (a broadcast reaching the VU's next socket
    while the first is being read)."""

    def __init__(self, inbox: Inbox, then: FakeReader) -> None:
        super().__init__(inbox)
        self.then = then

    def read_direct(self) -> bool:
        keep = super().read_direct()
        self.then.b.send(b"also")
        return keep


def test_sockets_that_became_readable_meanwhile_are_read_in_the_same_wait() -> None:
    box = Inbox()
    second = FakeReader(box)
    first = BroadcastReader(box, then=second)
    try:
        box.add_reader(first)
        box.add_reader(second)
        first.b.send(b"hello")
        assert box.wait(5) == ("msg", b"hello")
        # the re-check after the wake-up read the second socket before wait() returned
        assert second.reads == [b"also"]
        assert box.get_nowait() == ("msg", b"also")
        assert box.empty()
    finally:
        first.close()
        second.close()
