"""Socket calls that keep the GIL (transport/heldio.py): same results and errors as the
socket methods they replace, and used for plain-TCP WebSockets."""

from __future__ import annotations

import select
import socket
import threading

import pytest

from jsrunner.transport import heldio
from tests.transport.test_direct import _connect_echo, _echo_each

pytestmark = pytest.mark.skipif(not heldio.available, reason="libc not reachable via ctypes")


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def test_send_and_recv_move_the_bytes(pair) -> None:
    a, b = pair
    assert heldio.send(a.fileno(), b"hello") == 5
    assert heldio.recv(b.fileno()) == b"hello"


def test_recv_takes_at_most_one_buffer(pair) -> None:
    a, b = pair
    a.setblocking(True)
    b.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    data = bytes(range(256)) * 1024  # 256 KiB: more than one read
    t = threading.Thread(target=a.sendall, args=(data,))
    t.start()
    got = bytearray()
    while len(got) < len(data):
        select.select([b], [], [], 5)
        chunk = heldio.recv(b.fileno())
        assert 0 < len(chunk) <= heldio.RECV_SIZE
        got += chunk
    t.join()
    assert bytes(got) == data


def test_nothing_to_read_is_blocking_io_error(pair) -> None:
    with pytest.raises(BlockingIOError):
        heldio.recv(pair[1].fileno())


def test_eof_reads_empty(pair) -> None:
    a, b = pair
    a.shutdown(socket.SHUT_WR)
    assert heldio.recv(b.fileno()) == b""


def test_a_full_socket_takes_part_then_would_block(pair) -> None:
    a, _ = pair
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    total = 0
    with pytest.raises(BlockingIOError):
        for _ in range(10_000):
            n = heldio.send(a.fileno(), b"x" * 65536)
            assert 0 < n <= 65536
            total += n
    assert total > 0


def test_writing_to_a_closed_peer_is_broken_pipe_not_a_signal(pair) -> None:
    a, b = pair
    b.close()
    with pytest.raises(BrokenPipeError):
        heldio.send(a.fileno(), b"x")


def test_a_reset_is_connection_reset_error() -> None:
    srv = socket.create_server(("127.0.0.1", 0))
    cli = socket.create_connection(srv.getsockname())
    peer, _ = srv.accept()
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    peer.close()  # linger 0: RST
    cli.setblocking(False)
    try:
        select.select([cli], [], [], 5)
        with pytest.raises(ConnectionResetError):
            heldio.recv(cli.fileno())
    finally:
        cli.close()
        srv.close()


def test_a_closed_descriptor_is_an_os_error() -> None:
    s = socket.socket()
    fd = s.fileno()
    s.close()
    with pytest.raises(OSError):
        heldio.send(fd, b"x")


def test_ready_check_agrees_with_poll(pair) -> None:
    a, b = pair
    c, d = socket.socketpair()
    try:
        check = heldio.ReadyCheck()
        assert check.ready() == []  # nothing registered
        check.register(b.fileno(), select.POLLIN)
        check.register(d.fileno(), select.POLLIN)
        assert check.ready() == []
        a.send(b"1")
        assert check.ready() == [(b.fileno(), select.POLLIN)]
        c.send(b"2")
        assert sorted(check.ready()) == sorted([(b.fileno(), select.POLLIN),
                                                (d.fileno(), select.POLLIN)])
        check.unregister(b.fileno())
        assert check.ready() == [(d.fileno(), select.POLLIN)]
        check.unregister(b.fileno())  # unknown: ignored
    finally:
        c.close()
        d.close()


def test_plain_tcp_websockets_read_and_write_through_it(plain_server, monkeypatch) -> None:
    calls = {"send": 0, "recv": 0}
    real_send, real_recv = heldio.send, heldio.recv

    def send(fd: int, data: bytes) -> int:
        calls["send"] += 1
        return real_send(fd, data)

    def recv(fd: int) -> bytes:
        calls["recv"] += 1
        return real_recv(fd)

    monkeypatch.setattr(heldio, "send", send)
    monkeypatch.setattr(heldio, "recv", recv)
    owner, conn = _connect_echo(plain_server)
    try:
        assert owner.next_event()[0] == "open"
        _echo_each(owner, conn, 5)
        assert calls["send"] >= 5 and calls["recv"] >= 5
    finally:
        conn.abort()
        owner.inbox.release()



def test_threads_reading_at_once_each_get_their_own_bytes() -> None:
    # recv fills a buffer and a second call copies it out; a thread switch between the two
    # (forced here by a tiny switch interval) must not hand one thread another's bytes
    import sys

    pairs = [socket.socketpair() for _ in range(6)]
    bad: list[str] = []

    def reader(k: int, a: socket.socket, b: socket.socket) -> None:
        b.setblocking(False)
        payload = bytes([65 + k]) * 200
        for _ in range(3000):
            a.send(payload)
            got = b""
            while len(got) < len(payload):
                try:
                    got += heldio.recv(b.fileno())
                except BlockingIOError:
                    pass
            if got != payload:
                bad.append(f"thread {k} read {got[:8]!r}...")
                return

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=reader, args=(k, a, b)) for k, (a, b) in enumerate(pairs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        sys.setswitchinterval(old)
        for a, b in pairs:
            a.close()
            b.close()
    assert bad == []
