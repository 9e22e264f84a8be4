"""Direct reading: a socket owned by a VU inbox is read on the VU thread while it waits,
and by the I/O thread again while the VU is busy (transport/inbox.py, client.read_direct)."""

from __future__ import annotations

import threading
import time

from jsrunner.transport.client import WebSocketConnection
from jsrunner.transport.inbox import Inbox


class Owner:
    """Plays the VU: events go to its inbox; it dispatches them through ``conn.accept``."""

    def __init__(self) -> None:
        self.inbox = Inbox()
        self.threads: list[tuple[str, int]] = []
        self.samples: list[dict] = []
        self.conn: WebSocketConnection | None = None

    def on_event(self, kind: str, payload: dict) -> None:
        self.threads.append((kind, threading.get_ident()))
        self.inbox.put((kind, payload))

    def next_event(self, timeout: float = 5.0) -> tuple[str, dict]:
        deadline = time.monotonic() + timeout
        while True:
            kind, payload = self.inbox.wait(max(0.0, deadline - time.monotonic()))
            assert self.conn is not None
            if self.conn.accept(kind, payload):
                return kind, payload


def _until(cond, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return cond()


def _connect_echo(server):
    """An owner (a VU stand-in reading in its own waits) and its started echo connection."""
    owner = Owner()
    conn = WebSocketConnection(server.url("/echo"), on_event=owner.on_event,
                               on_sample=owner.samples.append, inbox=owner.inbox)
    owner.conn = conn
    conn.start()
    return owner, conn


def _echo_each(owner: Owner, conn: WebSocketConnection, n: int) -> None:
    """Send ``n`` texts one at a time; each comes back as the next message event."""
    for i in range(n):
        conn.send_text(f"m{i}")
        kind, payload = owner.next_event()
        assert (kind, payload["text"]) == ("message", f"m{i}")


def test_messages_are_read_on_the_waiting_thread(plain_server):
    owner, conn = _connect_echo(plain_server)
    try:
        assert owner.next_event()[0] == "open"
        _echo_each(owner, conn, 20)
        me = threading.get_ident()
        # once the I/O thread handed the socket over (one loop turn), all on this thread
        assert [t for k, t in owner.threads if k == "message"][-10:] == [me] * 10
        conn.close()
        kinds = []
        while not kinds or kinds[-1] != "close":
            kinds.append(owner.next_event()[0])
        assert kinds == ["close"]
        assert conn.join(5)
        assert len([s for s in owner.samples if s["name"] == "ws_msgs_received"]) == 20
    finally:
        conn.abort()
        owner.inbox.release()


def test_a_busy_owner_hands_reading_back_to_the_io_thread(plain_server):
    owner, conn = _connect_echo(plain_server)
    try:
        assert owner.next_event()[0] == "open"
        conn.ping()  # the owner does not wait any more: only the I/O thread can read the Pong
        assert _until(lambda: not owner.inbox.empty())
        assert conn._hub_reads
        kind, payload = owner.inbox.get_nowait()
        assert kind == "pong"
        assert owner.threads[-1][1] != threading.get_ident()
        # waiting again takes the socket back
        conn.send_text("again")
        kind, payload = owner.next_event()
        assert (kind, payload["text"]) == ("message", "again")
        for i in range(10):
            conn.send_text(f"m{i}")
            assert owner.next_event()[0] == "message"
        assert owner.threads[-1] == ("message", threading.get_ident())
    finally:
        conn.abort()
        owner.inbox.release()


def _resetting_server(payload_frame: bytes):
    """Accepts one WebSocket, sends ``payload_frame``, then resets the TCP connection."""
    import base64
    import hashlib
    import socket
    import struct

    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    go = threading.Event()

    def run():
        c, _ = ls.accept()
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += c.recv(4096)
        key = [ln.split(b":", 1)[1].strip() for ln in buf.split(b"\r\n")
               if ln.lower().startswith(b"sec-websocket-key")][0]
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        c.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        go.wait(10)
        c.sendall(payload_frame)
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # RST
        ls.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return ls.getsockname()[1], go, t


def test_a_reset_met_by_a_write_ends_like_a_read_reset(connect):
    port, go, t = _resetting_server(b"\x81\x02hi")
    conn, rec = connect(f"ws://127.0.0.1:{port}/")
    rec.pump(lambda k, p: k == "open")
    conn.pause_reading()  # nobody reads: the next write meets the reset first
    time.sleep(0.1)
    go.set()
    t.join(10)
    for _ in range(500):  # until a write meets the reset (liveness bound only)
        if conn.ready_state != 1 or conn.done:
            break
        try:
            conn.send_text("x")
        except Exception:  # noqa: BLE001 - InvalidStateError once closed
            break
        time.sleep(0.01)
    rec.pump()
    # the message sent before the reset, then close only (no error event), as k6 for a reset
    assert rec.kinds() == ["open", "message", "close"]
    assert rec.events[1][1]["text"] == "hi"
    assert rec.events[2][1]["code"] is None
