"""A WebSocket server that misbehaves on command (tests/faults only).

Plain blocking sockets, one thread per connection, hand-written framing: every fault is
exactly what the wire shows, with no library smoothing it over. The request path picks
the behaviour (query parameters tune it):

=====================================  ==================================================
``/echo``                              a well-behaved echo server; answers Ping and Close
``/echo?ping=1``                       ... that sends one Ping first
``/echo?rst_after=N``                  echo N messages, then reset the TCP connection
``/echo?fin_after=N``                  echo N messages, then close TCP without a Close frame
``/rst-handshake``                     read the upgrade request, reset the connection
``/hang-handshake``                    read the upgrade request, never answer
``/silent``                            complete the handshake, then never read or write
                                       again (a half-open peer: no Pong, no Close echo)
``/badutf8``                           send a text frame that is not UTF-8, then echo
``/huge?announce=N&send=M``            send a frame header announcing N bytes, then M of them
``/flood?size=1024``                   send messages as fast as TCP takes them until the
                                       client goes away (blocking writes: TCP back-pressure)
=====================================  ==================================================

Counters per path (``stats(path)``): connections, messages received from clients in
total and on connections that ended with a clean close handshake (the client's Close
frame arrived and was answered), flood messages sent. ``kill()`` drops every connection
with a reset and stops listening; ``revive()`` listens again on the same port. ``tls`` is
``(certfile, keyfile)`` for a ``wss://`` server.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import ssl
import struct
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


@dataclass
class Stats:
    connections: int = 0
    handshakes: int = 0
    received: int = 0  #: data messages from clients, all connections
    received_clean: int = 0  #: ... on connections closed with a full close handshake
    clean_closes: int = 0
    close_codes: list[int] = field(default_factory=list)
    flood_sent: int = 0
    pings: int = 0


class _Closed(Exception):
    pass


class BadServer:
    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self._ctx: ssl.SSLContext | None = None
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self._ctx = ctx
        self._lock = threading.Lock()
        self._stats: dict[str, Stats] = defaultdict(Stats)
        self._conns: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self._listen()

    # ---- lifecycle ---------------------------------------------------------------------
    def _listen(self) -> None:
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(512)
        self.port = ls.getsockname()[1]
        self._listener = ls
        self._thread = threading.Thread(target=self._accept_loop, args=(ls,), daemon=True,
                                        name="badserver-accept")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"{'wss' if self._ctx else 'ws'}://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """Die: stop listening and reset every connection."""
        ls, self._listener = self._listener, None
        if ls is not None:
            try:
                ls.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            ls.close()
        with self._lock:
            conns = list(self._conns)
            self._conns.clear()
        for s in conns:
            _reset(s)
        if self._thread is not None:
            self._thread.join(2)

    def revive(self) -> None:
        """Come back on the same port."""
        for _ in range(50):
            try:
                self._listen()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"cannot listen on port {self.port} again")

    def close(self) -> None:
        self.kill()

    def __enter__(self) -> "BadServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def stats(self, path: str) -> Stats:
        with self._lock:
            s = self._stats[path]
            return Stats(s.connections, s.handshakes, s.received, s.received_clean, s.clean_closes,
                         list(s.close_codes), s.flood_sent, s.pings)

    def wait(self, path: str, pred: Any, timeout: float = 5.0) -> Stats:
        deadline = time.monotonic() + timeout
        while True:
            s = self.stats(path)
            if pred(s) or time.monotonic() > deadline:
                return s
            time.sleep(0.01)

    # ---- connections -------------------------------------------------------------------
    def _accept_loop(self, ls: socket.socket) -> None:
        while True:
            try:
                sock, _ = ls.accept()
            except OSError:
                return
            with self._lock:
                self._conns.add(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True, name="badserver-conn").start()

    def _serve(self, raw: socket.socket) -> None:
        sock: Any = raw
        try:
            if self._ctx is not None:
                raw.settimeout(10)
                try:
                    sock = self._ctx.wrap_socket(raw, server_side=True)
                except (ssl.SSLError, OSError):
                    return  # e.g. the client refused our certificate
                with self._lock:
                    self._conns.discard(raw)
                    self._conns.add(sock)
            sock.settimeout(None)
            request = _read_request(sock)
            if request is None:
                return
            target, headers = request
            split = urlsplit(target)
            path = split.path
            q = {k: v[-1] for k, v in parse_qs(split.query).items()}
            with self._lock:
                self._stats[path].connections += 1
            if path == "/rst-handshake":
                _reset(sock)
                return
            if path == "/hang-handshake":
                _drain_until_closed(sock)
                return
            key = headers.get("sec-websocket-key", "").encode()
            accept = base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode()
            sock.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            with self._lock:
                self._stats[path].handshakes += 1
            handler = getattr(self, "_ws_" + path.strip("/").replace("-", "_"), None)
            if handler is None:
                _send_close(sock, 1008, "unknown path")
                return
            handler(sock, path, q)
        except (OSError, _Closed, ssl.SSLError):
            pass
        finally:
            with self._lock:
                self._conns.discard(sock)
                self._conns.discard(raw)
            try:
                sock.close()
            except OSError:
                pass

    def _echo(self, sock: Any, path: str, q: dict[str, str], *, limit: int | None = None) -> str:
        """Echo until the client closes (returns "closed") or ``limit`` messages ("limit")."""
        got = 0
        while limit is None or got < limit:
            op, payload = _read_message(sock, self, path)
            if op == 0x8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                with self._lock:  # a close handshake in progress survives kill()
                    self._conns.discard(sock)
                _send_frame(sock, 0x8, payload[:2])
                with self._lock:
                    st = self._stats[path]
                    st.close_codes.append(code)
                    st.clean_closes += 1
                    st.received_clean += got
                return "closed"
            got += 1
            with self._lock:
                self._stats[path].received += 1
            _send_frame(sock, op, payload)
        return "limit"

    def _ws_echo(self, sock: Any, path: str, q: dict[str, str]) -> None:
        if "ping" in q:
            _send_frame(sock, 0x9, b"srv")
        if "rst_after" in q:
            if self._echo(sock, path, q, limit=int(q["rst_after"])) == "limit":
                _reset(sock)
            return
        if "fin_after" in q:
            if self._echo(sock, path, q, limit=int(q["fin_after"])) == "limit":
                sock.shutdown(socket.SHUT_WR)
                _drain_until_closed(sock)
            return
        self._echo(sock, path, q)

    def _ws_silent(self, sock: Any, path: str, q: dict[str, str]) -> None:
        # half-open: nothing is read (the client's Pings and Close pile up in our buffer)
        # and nothing is written; wait until the client gives up on TCP or we are killed
        while True:
            try:
                r = sock.recv(1, socket.MSG_PEEK)
            except OSError:
                return
            if not r:
                return
            time.sleep(0.05)

    def _ws_badutf8(self, sock: Any, path: str, q: dict[str, str]) -> None:
        _send_frame(sock, 0x1, b"bad \xff\xfe utf8 \xc3\x28")
        self._echo(sock, path, q)

    def _ws_huge(self, sock: Any, path: str, q: dict[str, str]) -> None:
        announce = int(q.get("announce", str(1 << 40)))
        send = int(q.get("send", "0"))
        sock.sendall(bytes([0x82, 127]) + struct.pack("!Q", announce))
        chunk = b"\0" * 65536
        while send > 0:
            n = min(send, len(chunk))
            sock.sendall(chunk[:n])
            send -= n
        if int(q.get("send", "0")) >= announce:
            self._echo(sock, path, q)  # a complete frame: behave from here on
        else:
            _drain_until_closed(sock)

    def _ws_flood(self, sock: Any, path: str, q: dict[str, str]) -> None:
        size = int(q.get("size", "1024"))
        frame = _frame(0x1, b"x" * size)
        batch = frame * 64
        sock.settimeout(30)
        while True:
            sock.sendall(batch)
            with self._lock:
                self._stats[path].flood_sent += 64


# ---- wire helpers ----------------------------------------------------------------------
def _reset(sock: Any) -> None:
    """Close with RST (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def _drain_until_closed(sock: Any) -> None:
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def _recv_exact(sock: Any, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise _Closed()
        buf += chunk
    return bytes(buf)


def _read_request(sock: Any) -> tuple[str, dict[str, str]] | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            return None
        data += chunk
        if len(data) > 65536:
            return None
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    parts = head[0].split(" ")
    if len(parts) < 2:
        return None
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return parts[1], headers


def _read_frame(sock: Any) -> tuple[bool, int, bytes]:
    b1, b2 = _recv_exact(sock, 2)
    n = b2 & 0x7F
    if n == 126:
        n = struct.unpack("!H", _recv_exact(sock, 2))[0]
    elif n == 127:
        n = struct.unpack("!Q", _recv_exact(sock, 8))[0]
    mask = _recv_exact(sock, 4) if b2 & 0x80 else b"\0\0\0\0"
    data = _recv_exact(sock, n)
    if b2 & 0x80 and n:
        key = int.from_bytes(mask * (n // 4) + mask[: n % 4], "little")
        data = (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")
    return bool(b1 & 0x80), b1 & 0x0F, data


def _read_message(sock: Any, server: BadServer, path: str) -> tuple[int, bytes]:
    """The next data message or Close frame; Pings are answered on the way."""
    parts: list[bytes] = []
    first_op = 0
    while True:
        fin, op, data = _read_frame(sock)
        if op == 0x9:
            with server._lock:
                server._stats[path].pings += 1
            _send_frame(sock, 0xA, data)
            continue
        if op == 0xA:
            continue
        if op == 0x8:
            return op, data
        if op != 0:
            first_op = op
        parts.append(data)
        if fin:
            return first_op, b"".join(parts)


def _frame(op: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        head = bytes([0x80 | op, n])
    elif n < 65536:
        head = bytes([0x80 | op, 126]) + struct.pack("!H", n)
    else:
        head = bytes([0x80 | op, 127]) + struct.pack("!Q", n)
    return head + payload


def _send_frame(sock: Any, op: int, payload: bytes) -> None:
    sock.sendall(_frame(op, payload))


def _send_close(sock: Any, code: int, reason: str) -> None:
    _send_frame(sock, 0x8, struct.pack("!H", code) + reason.encode())
