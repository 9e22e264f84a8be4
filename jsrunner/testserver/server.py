"""Implementation of the local WebSocket/HTTP test server (see the package docstring).

Everything network-facing runs on one asyncio event loop.  Statistics are written on that
loop and read from other threads; every access goes through one ``threading.Lock`` (an
uncontended acquire costs well under a microsecond, so it stays off the hot path).
"""

from __future__ import annotations

import asyncio
import collections
import email.utils
import http
import json
import logging
import signal
import struct
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import EXTERNAL_CLOSE_CODES, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State

__all__ = ["LocalServer", "PathStats", "ServerThread", "serve_forever"]

# websockets logs every frame at DEBUG and every connection at INFO; pin our logger to
# WARNING so that even a test run with a DEBUG root logger never pays for that.
_WS_LOGGER = logging.getLogger("jsrunner.testserver.websockets")
_WS_LOGGER.setLevel(logging.WARNING)

#: (path, description) shown on the plain-HTTP index page ``GET /``.
ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("/echo, /ws/echo", "echo text and binary frames unchanged"),
    ("/ws/crocochat/<room>/, /chat/<room>", "k6 crocochat room: SET_NAME, SAY, LEAVE"),
    ("/headers", "first frame: JSON {headers, cookies, path, query}; then echo"),
    ("/subprotocol", "accept the first offered subprotocol, send it as a frame; then echo"),
    ("/ping?interval=100&count=3", "server pings 'srv-0'.. every interval ms; echo"),
    ("/close?code=1000&reason=&after=0", "server closes with code/reason after ms; echo"),
    ("/slow?delay=1000", "delay the handshake response by ms; then echo"),
    ("/status?code=403", "refuse the upgrade with that HTTP status"),
    ("/abort?after=0[&when=handshake]", "drop TCP without a Close frame after ms"),
    ("/flood?count=1000&size=16&type=text", "send count messages at once; then echo"),
    ("/badutf8", "send a text frame with invalid UTF-8; then echo"),
    ("/big?size=1048576&type=binary", "send one frame of size bytes; then echo"),
)

_DEFAULT_RECEIVED_LIMIT = 10_000  # messages kept per path by received() ...
_RECEIVED_BYTES_LIMIT = 32 << 20  # ... and at most this many bytes of them
_CLOSED = State.CLOSED
_OPEN = State.OPEN
_PING = Opcode.PING
_PONG = Opcode.PONG
_CLOSE_OP = Opcode.CLOSE
_TEXT = Opcode.TEXT
_BINARY = Opcode.BINARY
_CONT = Opcode.CONT
_DATA_OPS = frozenset([_TEXT, _BINARY, _CONT])


class _BadRequest(Exception):
    pass


# --------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class PathStats:
    """Snapshot of the counters of one request path (query string excluded)."""

    path: str
    requests: int = 0  #: HTTP requests incl. refused / plain-HTTP ones
    connections: int = 0  #: WebSocket connections opened (handshake completed)
    open: int = 0  #: connections currently open
    text_messages: int = 0  #: text messages received from clients
    binary_messages: int = 0  #: binary messages received from clients
    messages_sent: int = 0  #: data messages the server sent (echoes, broadcasts, floods)
    pings: int = 0  #: Ping frames received from clients
    pongs: int = 0  #: Pong frames received from clients
    close_codes: tuple[int, ...] = ()  #: per finished connection; 1006 = no Close frame
    close_reasons: tuple[str, ...] = ()

    @property
    def messages(self) -> int:
        return self.text_messages + self.binary_messages


class _Record:
    """Mutable counters of one path; only touched with ``LocalServer._lock`` held."""

    __slots__ = (
        "path", "requests", "connections", "open", "text", "binary", "sent",
        "pings", "pongs", "close_codes", "close_reasons", "received", "received_bytes",
        "limit",
    )

    def __init__(self, path: str, limit: int) -> None:
        self.path = path
        self.open = 0
        self.limit = limit
        self.received: collections.deque[str | bytes] = collections.deque()
        self.clear()

    def clear(self) -> None:  # ``open`` is live state, not history: kept
        self.requests = self.connections = self.text = self.binary = self.sent = 0
        self.pings = self.pongs = 0
        self.close_codes: list[int] = []
        self.close_reasons: list[str] = []
        self.received.clear()
        self.received_bytes = 0

    def keep(self, msg: str | bytes) -> None:
        """Remember a received message, evicting the oldest beyond the limits."""
        received = self.received
        received.append(msg)
        self.received_bytes += len(msg)
        while self.received_bytes > _RECEIVED_BYTES_LIMIT or len(received) > self.limit:
            self.received_bytes -= len(received.popleft())

    def snapshot(self) -> PathStats:
        return PathStats(
            self.path, self.requests, self.connections, self.open, self.text,
            self.binary, self.sent, self.pings, self.pongs, tuple(self.close_codes),
            tuple(self.close_reasons),
        )


# --------------------------------------------------------------------------- connection


class _Conn(ServerConnection):
    """ServerConnection that feeds the per-path statistics.

    With ``fast_echo`` set (the ``/echo`` endpoints) data frames are echoed straight from
    the protocol callback: no message queue, no handler-task wake-up per message, one
    transport write per received TCP segment.  Fragmented messages are echoed frame by
    frame; text is UTF-8-checked (1007 on error).  Backpressure: while the transport's
    write buffer is full, reading is paused.
    """

    def __init__(self, owner: "LocalServer", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.rec: _Record | None = None
        self.route = ""
        self.query: dict[str, list[str]] = {}
        self.room = ""
        self.chat_name: str | None = None
        self.opened = False
        self.finished = False
        self.fast_echo = False
        self._echo_pending = False
        self._frag_op: Opcode | None = None
        self._frag: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.owner._transports.add(transport)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)  # calls process_event() for every frame
        if self._echo_pending:
            self._echo_pending = False
            try:
                self.send_data()
            except Exception as exc:  # same policy as websockets' data_received()
                self.set_connection_exc(exc)

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and self.rec is not None:
            op = event.opcode
            if self.fast_echo and op in _DATA_OPS:
                self._echo_frame(event)
                return
            if op is _PING or op is _PONG:
                with self.owner._lock:
                    if op is _PING:
                        self.rec.pings += 1
                    else:
                        self.rec.pongs += 1
            elif op is _CLOSE_OP:
                self._finish()
        super().process_event(event)

    def _echo_frame(self, frame: Frame) -> None:
        op = frame.opcode
        data = frame.data
        kind = self._frag_op if op is _CONT else op
        if not frame.fin:
            self._frag_op = kind
            self._frag.append(bytes(data))
        else:
            if self._frag:
                self._frag.append(bytes(data))
                whole = b"".join(self._frag)
                self._frag = []
                self._frag_op = None
            else:
                whole = bytes(data)
            msg: str | bytes = whole
            if kind is _TEXT:
                try:
                    msg = whole.decode()
                except UnicodeDecodeError:
                    if self.protocol.state is _OPEN:
                        self.protocol.fail(1007, "invalid UTF-8")
                        self._echo_pending = True
                        self.loop.call_later(self.close_timeout or 3.0, self.transport.abort)
                    return
            rec = self.rec
            assert rec is not None
            with self.owner._lock:
                if kind is _TEXT:
                    rec.text += 1
                else:
                    rec.binary += 1
                rec.sent += 1
                rec.keep(msg)
        protocol = self.protocol
        if protocol.state is _OPEN:
            if op is _TEXT:
                protocol.send_text(data, frame.fin)
            elif op is _BINARY:
                protocol.send_binary(data, frame.fin)
            else:
                protocol.send_continuation(data, frame.fin)
            self._echo_pending = True

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.fast_echo:
            self.transport.pause_reading()  # type: ignore[attr-defined]

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.fast_echo and not self.transport.is_closing():
            self.transport.resume_reading()  # type: ignore[attr-defined]

    def _finish(self) -> None:
        """Record the client's close code once: at its Close frame, else at TCP loss."""
        rec = self.rec
        if rec is None or not self.opened or self.finished:
            return
        self.finished = True
        rcvd = self.protocol.close_rcvd
        with self.owner._lock:
            rec.open -= 1
            rec.close_codes.append(1006 if rcvd is None else int(rcvd.code))
            rec.close_reasons.append("" if rcvd is None else rcvd.reason)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.owner._transports.discard(self.transport)
        self._finish()


# --------------------------------------------------------------------------- helpers


def _response(code: int, text: str) -> Response:
    body = text.encode()
    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Connection", "close"),
            ("Content-Length", str(len(body))),
            ("Content-Type", "text/plain; charset=utf-8"),
        ]
    )
    try:
        phrase = http.HTTPStatus(code).phrase
    except ValueError:
        phrase = "Unknown"
    return Response(code, phrase, headers, body)


def _int(q: dict[str, list[str]], name: str, default: int, lo: int, hi: int) -> int:
    raw = q.get(name)
    if not raw or raw[-1] == "":
        return default
    try:
        value = int(raw[-1])
    except ValueError:
        raise _BadRequest(f"{name} must be an integer, got {raw[-1]!r}") from None
    if not lo <= value <= hi:
        raise _BadRequest(f"{name} must be between {lo} and {hi}, got {value}")
    return value


def _str(q: dict[str, list[str]], name: str, default: str) -> str:
    raw = q.get(name)
    return raw[-1] if raw else default


def _match(path: str) -> tuple[str, str] | None:
    """Return (route, room) for a WebSocket path, or None if unknown.

    ``/<endpoint>/<anything>`` is the same endpoint as ``/<endpoint>`` (statistics are
    kept per full path, so tests sharing one server can isolate their counters).
    """
    for prefix in ("/ws/crocochat/", "/chat/"):
        if path.startswith(prefix):
            room = path[len(prefix):]
            if room.endswith("/"):
                room = room[:-1]
            if room and "/" not in room:
                return "chat", unquote(room)
            return None
    if path.startswith("/ws/echo"):
        path = path[3:]
    name = path[1:].partition("/")[0]
    if name in _SIMPLE_ROUTES:
        return name, ""
    return None


_SIMPLE_ROUTES = frozenset(
    ["echo", "headers", "subprotocol", "ping", "close", "slow", "status", "abort",
     "flood", "badutf8", "big"]
)


def _parse_cookies(values: list[str]) -> dict[str, str]:
    cookies: dict[str, str] = {}
    for value in values:
        for part in value.split(";"):
            name, sep, val = part.strip().partition("=")
            if sep and name:
                val = val.strip()
                if len(val) >= 2 and val[0] == val[-1] == '"':
                    val = val[1:-1]
                cookies[name.strip()] = val
    return cookies


def _consume(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled():
        fut.exception()


def _raise_nofile_limit(wanted: int = 8192) -> None:
    """~1,000 in-process client+server sockets need more than the usual 1024 fds."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft != resource.RLIM_INFINITY and soft < wanted:
            target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
            if target > soft:
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ImportError, ValueError, OSError):
        pass


# --------------------------------------------------------------------------- server


class LocalServer:
    """The server itself, bound to the event loop that calls :meth:`start`.

    Stats accessors (:meth:`stats`, :meth:`received`, :meth:`reset`, :meth:`wait_stats`)
    are thread-safe; :meth:`start`/:meth:`stop` must run on the server's loop.
    ``str(server)`` is its ``ws://`` URL.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        received_limit: int = _DEFAULT_RECEIVED_LIMIT,
        close_timeout: float = 3.0,
        shutdown_grace: float = 0.5,
        compression: str | None = "deflate",
    ) -> None:
        self.host = host
        self.port = port
        self._received_limit = received_limit
        self._close_timeout = close_timeout
        self._shutdown_grace = shutdown_grace
        self._compression = compression
        self._lock = threading.Lock()
        self._records: dict[str, _Record] = {}
        self._rooms: dict[str, set[_Conn]] = {}
        self._transports: set[asyncio.BaseTransport] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: Any = None

    # ---- addresses

    @property
    def url(self) -> str:
        return f"ws://{self._hostport()}"

    @property
    def http_url(self) -> str:
        return f"http://{self._hostport()}"

    def _hostport(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return self.url

    # ---- statistics (thread-safe)

    def _record(self, path: str) -> _Record:
        rec = self._records.get(path)
        if rec is None:
            with self._lock:
                rec = self._records.setdefault(path, _Record(path, self._received_limit))
        return rec

    @staticmethod
    def _key(path: str) -> str:
        return urlsplit(path).path if ("?" in path or "://" in path) else path

    def stats(self, path: str | None = None) -> Any:
        """``PathStats`` for one path, or ``{path: PathStats}`` for all when no path."""
        with self._lock:
            if path is None:
                return {p: r.snapshot() for p, r in self._records.items()}
            rec = self._records.get(self._key(path))
            return rec.snapshot() if rec is not None else PathStats(self._key(path))

    def received(self, path: str) -> list[str | bytes]:
        """Messages received on ``path`` (text as str, binary as bytes), oldest first.

        Only the most recent 10,000 messages / 32 MiB per path are kept.
        """
        with self._lock:
            rec = self._records.get(self._key(path))
            return list(rec.received) if rec is not None else []

    def reset(self) -> None:
        """Zero every counter and forget received messages (open connections stay)."""
        with self._lock:
            for rec in self._records.values():
                rec.clear()

    def wait_stats(
        self,
        path: str,
        predicate: Callable[[PathStats], Any],
        timeout: float = 5.0,
    ) -> PathStats:
        """Poll until ``predicate(stats(path))`` is true; return those stats.

        Raises ``TimeoutError`` (with the last snapshot) otherwise.  Server-side counters
        are updated on the server thread, e.g. a close code when the Close frame arrives.
        """
        deadline = time.monotonic() + timeout
        while True:
            snap = self.stats(path)
            if predicate(snap):
                return snap
            if time.monotonic() >= deadline:
                raise TimeoutError(f"condition not met within {timeout}s: {snap}")
            time.sleep(0.005)

    # ---- lifecycle (on the loop)

    async def start(self) -> "LocalServer":
        _raise_nofile_limit()
        self._server = await serve(
            self._handler,
            self.host,
            self.port,
            create_connection=lambda *a, **kw: _Conn(self, *a, **kw),
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            compression=self._compression,
            open_timeout=None,  # /slow may delay as long as it likes; stop() aborts
            ping_interval=None,
            close_timeout=self._close_timeout,
            max_size=2**28,
            logger=_WS_LOGGER,
            backlog=4096,
        )
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        return self

    async def stop(self) -> None:
        """Close every connection (1001 going away, then abort) and the listener."""
        server = self._server
        if server is None:
            return
        self._server = None
        for task in list(self._tasks):
            task.cancel()
        server.close()
        try:
            await asyncio.wait_for(server.wait_closed(), self._shutdown_grace)
        except (TimeoutError, asyncio.TimeoutError):
            for transport in list(self._transports):
                transport.abort()
            for task in list(server.handler_tasks):
                task.cancel()
            try:
                await asyncio.wait_for(server.wait_closed(), 2.0)
            except (TimeoutError, asyncio.TimeoutError):
                pass

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # ---- handshake

    async def _process_request(self, conn: _Conn, request: Request) -> Response | None:
        split = urlsplit(request.path)
        path = split.path or "/"
        rec = self._record(path)
        conn.rec = rec
        with self._lock:
            rec.requests += 1
        query = parse_qs(split.query, keep_blank_values=True)
        conn.query = query
        matched = _match(path)
        upgrade = "websocket" in request.headers.get("Upgrade", "").lower()
        try:
            if not upgrade:
                return self._plain_http(path, matched, query)
            if matched is None:
                return _response(404, f"no WebSocket endpoint at {path}\n")
            conn.route, conn.room = matched
            route = conn.route
            conn.fast_echo = route == "echo"
            if route == "status":
                return _response(_int(query, "code", 403, 200, 599), "refused by /status\n")
            if route == "slow":
                await asyncio.sleep(_int(query, "delay", 1000, 0, 3_600_000) / 1000)
            elif route == "abort" and _str(query, "when", "") == "handshake":
                conn.transport.abort()
                await asyncio.sleep(0)
                return _response(500, "aborted\n")  # never sent: transport is gone
            elif route in _VALIDATE:
                _VALIDATE[route](query)
        except _BadRequest as exc:
            return _response(400, f"{exc}\n")
        return None

    def _plain_http(self, path: str, matched: Any, query: dict[str, list[str]]) -> Response:
        if path == "/":
            lines = ["jsrunner local test server (WebSocket endpoints):", ""]
            lines += [f"  {p:<40} {d}" for p, d in ENDPOINTS]
            lines += ["", f"WebSocket base URL: {self.url}"]
            return _response(200, "\n".join(lines) + "\n")
        if matched is not None and matched[0] == "status":
            return _response(_int(query, "code", 403, 200, 599), "status from /status\n")
        if matched is not None:
            return _response(426, f"{path} is a WebSocket endpoint\n")
        return _response(404, f"not found: {path}\n")

    @staticmethod
    def _select_subprotocol(conn: _Conn, offered: Any) -> Any:
        if conn.route == "subprotocol" and offered:
            return offered[0]
        return None

    # ---- connection handlers

    async def _handler(self, conn: _Conn) -> None:
        rec = conn.rec
        assert rec is not None
        if conn.protocol.state is _CLOSED:
            return
        conn.opened = True
        with self._lock:
            rec.connections += 1
            rec.open += 1
        try:
            await getattr(self, "_ws_" + conn.route)(conn, rec, conn.query)
        except ConnectionClosed:
            pass

    async def _echo(self, conn: _Conn, rec: _Record) -> None:
        recv = conn.recv
        send = conn.send
        lock = self._lock
        keep = rec.keep
        while True:
            msg = await recv()
            with lock:
                if msg.__class__ is str:
                    rec.text += 1
                else:
                    rec.binary += 1
                rec.sent += 1
                keep(msg)
            await send(msg)

    def _sent(self, rec: _Record, n: int = 1) -> None:
        with self._lock:
            rec.sent += n

    async def _ws_echo(self, conn: _Conn, rec: _Record, q: Any) -> None:
        await conn.wait_closed()  # the echo itself happens in _Conn._echo_frame()

    async def _ws_headers(self, conn: _Conn, rec: _Record, q: Any) -> None:
        request = conn.request
        assert request is not None
        headers: dict[str, str] = {}
        for name in request.headers:
            headers[name.lower()] = ", ".join(request.headers.get_all(name))
        payload = {
            "headers": headers,
            "cookies": _parse_cookies(request.headers.get_all("Cookie")),
            "path": urlsplit(request.path).path,
            "query": {k: v[-1] for k, v in q.items()},
        }
        self._sent(rec)
        await conn.send(json.dumps(payload))
        await self._echo(conn, rec)

    async def _ws_subprotocol(self, conn: _Conn, rec: _Record, q: Any) -> None:
        self._sent(rec)
        await conn.send(conn.subprotocol or "")
        await self._echo(conn, rec)

    async def _ws_ping(self, conn: _Conn, rec: _Record, q: Any) -> None:
        interval = _int(q, "interval", 100, 0, 3_600_000) / 1000
        count = _int(q, "count", 3, 0, 1_000_000)

        async def pinger() -> None:
            for i in range(count):
                await asyncio.sleep(interval)
                waiter = await conn.ping(f"srv-{i}".encode())
                waiter.add_done_callback(_consume)

        task = self._spawn(pinger())
        try:
            await self._echo(conn, rec)
        finally:
            task.cancel()

    async def _ws_close(self, conn: _Conn, rec: _Record, q: Any) -> None:
        code = _close_code(q)
        reason = _str(q, "reason", "")
        after = _int(q, "after", 0, 0, 3_600_000) / 1000

        async def closer() -> None:
            if after:
                await asyncio.sleep(after)
            await _send_close(conn, code, reason)

        if not after:
            await closer()
            await self._echo(conn, rec)
            return
        task = self._spawn(closer())
        try:
            await self._echo(conn, rec)
        finally:
            if not task.done():
                task.cancel()

    async def _ws_slow(self, conn: _Conn, rec: _Record, q: Any) -> None:
        await self._echo(conn, rec)

    async def _ws_abort(self, conn: _Conn, rec: _Record, q: Any) -> None:
        after = _int(q, "after", 0, 0, 3_600_000) / 1000
        if not after:
            conn.transport.abort()
            return
        handle = asyncio.get_running_loop().call_later(after, conn.transport.abort)
        try:
            await self._echo(conn, rec)
        finally:
            handle.cancel()

    async def _ws_flood(self, conn: _Conn, rec: _Record, q: Any) -> None:
        count = _int(q, "count", 1000, 0, 100_000_000)
        size = _int(q, "size", 16, 0, 2**26)
        binary = _str(q, "type", "text") == "binary"
        payload: str | bytes = b"x" * size if binary else "x" * size
        send = conn.send
        done = 0
        try:
            for done in range(1, count + 1):
                await send(payload)
        finally:
            self._sent(rec, done)
        await self._echo(conn, rec)

    async def _ws_badutf8(self, conn: _Conn, rec: _Record, q: Any) -> None:
        self._sent(rec)
        await conn.send(b"bad \xff\xfe utf8 \xc3\x28", text=True)
        await self._echo(conn, rec)

    async def _ws_big(self, conn: _Conn, rec: _Record, q: Any) -> None:
        size = _int(q, "size", 1 << 20, 0, 2**28)
        if _str(q, "type", "binary") == "text":
            await conn.send(b"a" * size, text=True)
        else:
            await conn.send(b"\x00" * size)
        self._sent(rec)
        await self._echo(conn, rec)

    # ---- crocochat

    def _chat_send(self, targets: Any, rec: _Record, payload: dict[str, Any]) -> None:
        targets = list(targets)
        broadcast(targets, json.dumps(payload))
        with self._lock:
            rec.sent += len(targets)

    async def _ws_chat(self, conn: _Conn, rec: _Record, q: Any) -> None:
        room_name = conn.room
        room = self._rooms.setdefault(room_name, set())
        room.add(conn)
        left = False
        lock = self._lock
        try:
            while True:
                msg = await conn.recv()
                with lock:
                    if msg.__class__ is str:
                        rec.text += 1
                    else:
                        rec.binary += 1
                    rec.keep(msg)
                error = None
                if isinstance(msg, bytes):
                    error = "binary messages are not supported, send JSON text"
                else:
                    try:
                        data = json.loads(msg)
                    except ValueError as exc:
                        data = None
                        error = f"invalid JSON: {exc}"
                    if error is None and not isinstance(data, dict):
                        error = "message must be a JSON object"
                if error is None:
                    assert isinstance(data, dict)
                    event = data.get("event")
                    if event == "SET_NAME":
                        name = data.get("new_name")
                        if not isinstance(name, str) or not name:
                            error = "SET_NAME requires a non-empty string 'new_name'"
                        else:
                            conn.chat_name = name
                            self._chat_send(room, rec, {
                                "event": "USER_JOINED", "user": name,
                                "message": f"{name} joined the room",
                            })
                    elif event == "SAY":
                        text = data.get("message")
                        if not isinstance(text, str):
                            error = "SAY requires a string 'message'"
                        else:
                            self._chat_send(room, rec, {
                                "event": "CHAT_MSG", "user": self._chat_user(conn),
                                "message": text,
                            })
                    elif event == "LEAVE":
                        user = self._chat_user(conn)
                        self._chat_send(room, rec, {
                            "event": "USER_LEFT", "user": user,
                            "message": f"{user} left the room",
                        })
                        room.discard(conn)
                        left = True
                        await conn.close(1000, "")
                        return
                    else:
                        error = f"unknown event: {event!r}" if event is not None else (
                            "missing 'event' field")
                if error is not None:
                    self._chat_send([conn], rec, {"event": "ERROR", "message": error})
        finally:
            room.discard(conn)
            if not left and conn.chat_name is not None and room:
                self._chat_send(room, rec, {
                    "event": "USER_LEFT", "user": conn.chat_name,
                    "message": f"{conn.chat_name} left the room",
                })
            if not room and self._rooms.get(room_name) is room:
                del self._rooms[room_name]

    @staticmethod
    def _chat_user(conn: _Conn) -> str:
        if conn.chat_name is None:
            conn.chat_name = f"anonymous-{id(conn) & 0xFFFF:04x}"
        return conn.chat_name


def _close_code(q: dict[str, list[str]]) -> int | None:
    if _str(q, "code", "") == "none":
        return None  # a Close frame without a payload (the client sees 1005)
    return _int(q, "code", 1000, 0, 65535)


def _validate_close(q: dict[str, list[str]]) -> None:
    _close_code(q)
    _int(q, "after", 0, 0, 3_600_000)


_VALIDATE: dict[str, Callable[[dict[str, list[str]]], Any]] = {
    "close": _validate_close,
    "ping": lambda q: (_int(q, "interval", 100, 0, 3_600_000),
                       _int(q, "count", 3, 0, 1_000_000)),
    "abort": lambda q: _int(q, "after", 0, 0, 3_600_000),
    "flood": lambda q: (_int(q, "count", 1000, 0, 100_000_000), _int(q, "size", 16, 0, 2**26)),
    "big": lambda q: _int(q, "size", 1 << 20, 0, 2**28),
}


async def _send_close(conn: _Conn, code: int | None, reason: str) -> None:
    raw_reason = reason.encode()[:123]
    reason = raw_reason.decode(errors="ignore")
    if code is None or code in EXTERNAL_CLOSE_CODES or 3000 <= code < 5000:
        await conn.close(code, reason if code is not None else "")  # type: ignore[arg-type]
        return
    # websockets refuses to send codes that must not appear on the wire (1005, 1006,
    # 1015, 0-999, 2000-2999, 5000+); tests of client robustness want them anyway.
    if conn.protocol.state is not _OPEN:
        return
    payload = struct.pack("!H", code) + raw_reason
    conn.transport.write(bytes([0x88, len(payload)]) + payload)
    conn.transport.close()


# --------------------------------------------------------------------------- threads/CLI


class ServerThread:
    """Run a :class:`LocalServer` on its own event loop in a daemon thread.

    ``with ServerThread() as srv: ...`` — ``srv.url`` (``ws://127.0.0.1:<port>``),
    ``srv.http_url``, ``srv.stats(path)``, ``srv.received(path)``, ``srv.reset()``,
    ``srv.wait_stats(path, predicate)``. Leaving the block closes every connection and
    joins the thread.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self.server = LocalServer(host, port, **options)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    # delegation
    url = property(lambda self: self.server.url)
    http_url = property(lambda self: self.server.http_url)
    host = property(lambda self: self.server.host)
    port = property(lambda self: self.server.port)

    def stats(self, path: str | None = None) -> Any:
        return self.server.stats(path)

    def received(self, path: str) -> list[str | bytes]:
        return self.server.received(path)

    def reset(self) -> None:
        self.server.reset()

    def wait_stats(self, path: str, predicate: Callable[[PathStats], Any],
                   timeout: float = 5.0) -> PathStats:
        return self.server.wait_stats(path, predicate, timeout)

    def ws_url(self, path: str = "/echo") -> str:
        """``ws_url("/echo")`` → ``ws://127.0.0.1:<port>/echo``."""
        return self.server.url + path

    def start(self) -> "ServerThread":
        if self._thread is not None:
            raise RuntimeError("ServerThread already started")
        self._thread = threading.Thread(
            target=self._run, name="jsrunner-testserver", daemon=True
        )
        self._thread.start()
        if not self._started.wait(30):
            raise RuntimeError("test server did not start within 30 s")
        if self._error is not None:
            self._thread.join(5)
            raise self._error
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # pragma: no cover - surfaced via start()
            if not self._started.is_set():
                self._error = exc
                self._started.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop_event = asyncio.Event()
        try:
            await self.server.start()
        except BaseException as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        try:
            await self._stop_event.wait()
        finally:
            await self.server.stop()

    def stop(self, timeout: float = 10.0) -> None:
        thread, loop, event = self._thread, self._loop, self._stop_event
        if thread is None:
            return
        if loop is not None and event is not None:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:
                pass  # loop already closed
        thread.join(timeout)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 0,
    ready: Callable[[LocalServer], Any] | None = None,
    **options: Any,
) -> None:
    """Serve in the calling thread until SIGINT/SIGTERM (or KeyboardInterrupt).

    Prints nothing.  Once listening, calls ``ready(server)``; ``server.url``
    (also ``str(server)``), ``server.http_url`` and ``server.port`` tell where.
    Returns normally after closing every connection.
    """

    async def main() -> None:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        installed: list[int] = []
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, stop.set)
                    installed.append(sig)
                except (NotImplementedError, RuntimeError, ValueError):
                    pass
        server = LocalServer(host, port, **options)
        await server.start()
        try:
            if ready is not None:
                ready(server)
            await stop.wait()
        finally:
            for sig in installed:
                loop.remove_signal_handler(sig)
            await server.stop()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
