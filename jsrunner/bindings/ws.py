"""Host side of legacy ``k6/ws`` (runtime.md §11): the blocking ``ws.connect``.

``ws.connect`` blocks the VU until its socket closes. The JS shim (``js/ws.js``) runs a
*nested* event loop for that one socket on the VU thread: it calls ``ws.wait`` here,
which blocks until the socket has an event or one of the socket's own timers
(``socket.setTimeout``/``setInterval``) is due, and dispatches what it gets. Other timers
and events of the VU wait meanwhile (k6 behaves the same: ``connect`` blocks).

Events come from the shared transport (``WebSocketConnection(..., legacy=True)``) through a
per-session queue; each is passed through ``conn.accept`` on the VU thread right before
JS sees it. An interrupted iteration (``vu.interrupt``) aborts the socket (Close 1001) and
ends the nested loop; ``vu.wake`` is hooked while a session is active so the interrupt is
noticed at once.

Commands returned by ``ws.wait``: ``['m', text]``, ``['b', base64]``, ``['p']`` (ping),
``['P']`` (pong), ``['e', errorText]``, ``['c', code]`` (closed by the peer or the network),
``['t', timerId]``, ``['x', interrupted]`` (stop at once, no more handlers: the iteration
was interrupted from outside (1), or the connection vanished (0)). An interrupt unwinds the
JS stack with ``__k6.abortSignal`` (not logged, like k6's uncatchable interrupt).
"""

from __future__ import annotations

import base64
import queue
import threading
import time
import urllib.parse
from typing import TYPE_CHECKING, Any

from .. import fibers
from ..timers import TimerQueue
from ..transport import WebSocketConnection

if TYPE_CHECKING:
    from ..vu import VU

_WAKE = ("wake", None)
_POLL_S = 0.5  # re-check the interrupt flag / a vanished connection at least this often
#: back-pressure: a session this far behind (queued events / message characters) stops
#: reading from its socket until its handlers are back under the low marks
_BACKLOG_HIGH = (4096, 16 << 20)
_BACKLOG_LOW = (1024, 4 << 20)
CLOSE_SENT = "websocket: close sent"
MALFORMED = "malformed ws or wss URL"


def mono_ms() -> float:
    return time.monotonic() * 1000.0


_MONO0_MS = time.monotonic() * 1000.0
_WALL0_NS = time.time_ns()


def wall_to_mono_ms(t_ns: int) -> float:
    """A transport timestamp (``time.time_ns()``) on the VU samples' monotonic clock.

    One fixed offset, so samples sharing a transport timestamp (ws_sessions and the legacy
    ws_session_duration: the connect start) keep sharing it.
    """
    return _MONO0_MS + (t_ns - _WALL0_NS) / 1e6


def check_url(url: str) -> str | None:
    """The error gorilla/websocket's dialer (via Go's url.Parse) gives for ``url``, if any."""
    try:
        u = urllib.parse.urlsplit(url)
    except ValueError as exc:
        if "IPv6" in str(exc):
            return f"parse \"{url}\": missing ']' in host"
        return f'parse "{url}": {exc}'
    scheme = u.scheme.lower()
    if scheme not in ("ws", "wss"):
        if not scheme and ":" in url.split("/", 1)[0]:
            return f'parse "{url}": first path segment in URL cannot contain colon'
        return MALFORMED
    if "@" in u.netloc:  # user info is not allowed in websocket URIs
        return MALFORMED
    host = u.netloc
    port = ""
    if host.startswith("["):
        end = host.find("]")
        if end != -1 and host[end + 1:end + 2] == ":":
            port = host[end + 2:]
    elif ":" in host:
        port = host.rsplit(":", 1)[1]
    if port:
        if not port.isdigit():
            return f'parse "{url}": invalid port ":{port}" after host'
        if int(port) > 65535:
            return f"dial tcp: address {port}: invalid port"
    if not u.hostname:
        return "lookup : no such host"
    return None


def _response_headers(headers: dict[str, str]) -> dict[str, str]:
    """Go's http.ReadResponse drops ``Connection`` when it carries the ``close`` token."""
    conn = headers.get("Connection")
    if conn is not None and "close" in [t.strip().lower() for t in conn.split(",")]:
        headers = {k: v for k, v in headers.items() if k != "Connection"}
    return headers


class _Session:
    __slots__ = ("sid", "conn", "q", "timers", "next_timer", "tags", "metadata", "start_ns",
                 "interrupted", "chars_in", "chars_out", "paused", "plock")

    def __init__(self, sid: int, tags: dict[str, str], metadata: Any) -> None:
        self.sid = sid
        self.conn: WebSocketConnection | None = None
        self.q: fibers.SimpleQueue = fibers.SimpleQueue()
        self.timers = TimerQueue()
        self.next_timer = 1
        self.tags = tags
        self.metadata = metadata
        self.start_ns = time.time_ns()
        self.interrupted = False
        # flow control: chars_in written by the I/O thread, chars_out by the VU thread
        self.chars_in = 0
        self.chars_out = 0
        self.paused = False
        self.plock = threading.Lock()

    def on_event(self, kind: str, payload: Any) -> None:
        """From the transport's I/O thread: queue, and stop reading when far behind."""
        self.q.put((kind, payload))
        if kind == "message":
            self.chars_in += _size(payload)
            if (not self.paused and (self.q.qsize() > _BACKLOG_HIGH[0]
                                     or self.chars_in - self.chars_out > _BACKLOG_HIGH[1])):
                with self.plock:
                    conn = self.conn
                    if not self.paused and conn is not None:
                        self.paused = True
                        conn.pause_reading()

    def taken(self, item: tuple[str, Any]) -> None:
        """On the VU thread, for each event taken from the queue."""
        if item[0] == "message":
            self.chars_out += _size(item[1])
        if self.paused and (self.q.qsize() <= _BACKLOG_LOW[0]
                            and self.chars_in - self.chars_out <= _BACKLOG_LOW[1]):
            with self.plock:
                conn = self.conn
                if self.paused and conn is not None:
                    self.paused = False
                    conn.resume_reading()


def _size(payload: Any) -> int:
    data = payload.get("text")
    if data is None:
        data = payload.get("binary_b64") or ""
    return len(data)


def install(vu: "VU") -> None:
    engine = vu.engine
    assert engine is not None
    ctx = vu.ctx
    sessions: dict[int, _Session] = {}
    counter = [0]

    def sink(sample: dict[str, Any], metadata: Any) -> None:
        ctx.sample_sink(vu, [[sample["name"], sample["value"], sample["tags"],
                              wall_to_mono_ms(sample["time_ns"]), metadata]])

    # -- vu.wake hook: an interrupt must reach a VU blocked in a nested loop at once -----
    def hook_wake() -> None:
        if "wake" in vu.__dict__:
            return
        cls_wake = type(vu).wake

        def wake() -> None:
            cls_wake(vu)
            for s in list(sessions.values()):
                s.q.put(_WAKE)

        vu.wake = wake  # type: ignore[method-assign]

    def unhook_wake() -> None:
        if not sessions and "wake" in vu.__dict__:
            del vu.wake

    def system_tags() -> Any:
        opts = ctx.options if isinstance(ctx.options, dict) else {}
        st = opts.get("systemTags")
        return st if isinstance(st, list) else None

    def tls_verify() -> bool:
        """Certificates are verified unless ``insecureSkipTLSVerify: true`` (as in k6)."""
        opts = ctx.options if isinstance(ctx.options, dict) else {}
        return not bool(opts.get("insecureSkipTLSVerify"))

    def next_item(s: _Session, timers: bool) -> tuple[str, Any] | None:
        """Block until the session has something; None = interrupted or gone."""
        while True:
            if vu.interrupt.is_set():
                return None
            now = mono_ms()
            if timers:
                tid = s.timers.pop_due(now)
                if tid is not None:
                    return ("timer", tid)
            try:
                item = s.q.get_nowait()
            except queue.Empty:
                conn = s.conn
                if conn is not None and conn.done:
                    try:
                        item = s.q.get_nowait()
                    except queue.Empty:
                        return None  # aborted (end of run) without a close event
                else:
                    due = s.timers.next_due() if timers else None
                    timeout = _POLL_S if due is None else min(_POLL_S, max(0.0, (due - now) / 1000.0))
                    try:
                        item = s.q.get(timeout=timeout)
                    except queue.Empty:
                        continue
            if item is _WAKE:
                continue
            s.taken(item)
            return item

    def fail_samples(s: _Session, tags: dict[str, str]) -> None:
        """k6 pushes ws_session_duration for failed dials too (timestamp: connect start)."""
        now = time.time_ns()
        sink({"name": "ws_session_duration", "value": (now - s.start_ns) / 1e6, "tags": dict(tags),
              "time_ns": s.start_ns}, s.metadata)

    def connect(url: str, headers: dict[str, Any] | None, tags: dict[str, str],
                compression: str | None, cookie: str | None, metadata: Any) -> list[Any]:
        counter[0] += 1
        sid = counter[0]
        s = _Session(sid, tags, metadata)
        if vu.interrupt.is_set():
            return ["int"]
        err = check_url(url)
        if err is not None:
            t = dict(tags)
            stags = system_tags()
            if stags is None or "url" in stags:
                t["url"] = url
            for name, value in (("ws_sessions", 1), ("ws_connecting", 0.0)):
                sink({"name": name, "value": value, "tags": dict(t), "time_ns": s.start_ns}, metadata)
            fail_samples(s, t)
            return ["fail", err, 0, {}, ""]
        try:
            conn = WebSocketConnection(
                url, headers=headers or None, cookies=cookie or None,
                compression="deflate" if compression == "deflate" else None,
                tls_verify=tls_verify(), handshake_timeout=60.0, on_event=s.on_event,
                on_sample=lambda sample: sink(sample, metadata), tags=tags,
                system_tags=system_tags(), legacy=True)
        except ValueError as exc:  # an address the dialer cannot use
            return ["fail", str(exc), 0, {}, ""]
        s.conn = conn
        s.start_ns = time.time_ns()
        sessions[sid] = s
        hook_wake()
        conn.start()
        failure: dict[str, Any] | None = None
        while True:
            item = next_item(s, timers=False)
            if item is None:  # interrupted while dialing (or the run is being torn down)
                s.interrupted = True
                conn.abort(1001)
                _finish(s)
                return ["int"] if vu.interrupt.is_set() else ["fail", "context canceled", 0, {}, ""]
            kind, payload = item
            if kind == "open":
                conn.accept(kind, payload)
                return ["ok", sid, payload.get("status", 101), payload.get("headers") or {}]
            if kind == "error":
                conn.accept(kind, payload)
                failure = payload
            elif kind == "close":
                conn.accept(kind, payload)
                failure = failure or {"error": "unexpected EOF"}
                s.start_ns = conn.state.started_ns or s.start_ns  # the ws_sessions timestamp
                fail_samples(s, conn.state.tags)
                _finish(s)
                status = failure.get("status")
                if status:
                    return ["fail", failure.get("error", ""), status,
                            _response_headers(failure.get("headers") or {}), failure.get("body") or "", True]
                return ["fail", failure.get("error", ""), 0, {}, ""]
            else:
                conn.accept(kind, payload)

    def _finish(s: _Session) -> None:
        sessions.pop(s.sid, None)
        conn = s.conn
        if conn is not None:
            if not conn.done:
                conn.join(0.2)
            sent, received = conn.take_data_counts()
            vu.data_sent += sent
            vu.data_received += received
        unhook_wake()

    def wait(sid: int) -> list[Any]:
        s = sessions.get(sid)
        if s is None or s.conn is None:
            return ["x"]
        conn = s.conn
        while True:
            item = next_item(s, timers=True)
            if item is None:
                s.interrupted = True
                conn.abort(1001)
                return ["x", 1] if vu.interrupt.is_set() else ["x", 0]
            kind, payload = item
            if kind == "timer":
                return ["t", payload]
            if not conn.accept(kind, payload):
                continue
            if kind == "message":
                if "text" in payload:
                    return ["m", payload["text"]]
                return ["b", payload.get("binary_b64", "")]
            if kind == "ping":
                return ["p"]
            if kind == "pong":
                return ["P"]
            if kind == "error":
                return ["e", payload.get("error", "")]
            if kind == "close":
                code = payload.get("code")
                return ["c", 1001 if code is None else code]
            # open (already accepted), log (k6/ws logs nothing), anything else: skip

    def send(sid: int, text: str | None, b64: str | None) -> str | None:
        s = sessions.get(sid)
        if s is None or s.conn is None:
            return CLOSE_SENT
        conn = s.conn
        try:
            if b64 is None:
                conn.send_text(text or "")
            else:
                conn.send_binary(base64.b64decode(b64))
        except Exception:  # noqa: BLE001 - InvalidStateError: the socket is closing/closed
            # k6 counts the message even when the write fails
            sink({"name": "ws_msgs_sent", "value": 1, "tags": dict(conn.state.tags),
                  "time_ns": time.time_ns()}, s.metadata)
            return CLOSE_SENT
        return None

    def ping(sid: int) -> str | None:
        s = sessions.get(sid)
        if s is None or s.conn is None:
            return CLOSE_SENT
        try:
            s.conn.ping()
        except Exception:  # noqa: BLE001 - InvalidStateError
            return CLOSE_SENT
        return None

    def close(sid: int, code: int) -> None:
        s = sessions.get(sid)
        if s is None or s.conn is None:
            return None
        wire = int(code) & 0xFFFF  # Go: uint16(closeCode)
        try:
            s.conn.close(wire, "", validate=False)
        except Exception as exc:  # noqa: BLE001
            vu.logger.debug(f"k6/ws close failed: {exc}")
        return None

    def add_timer(sid: int, delay_ms: float, repeat: bool) -> int:
        s = sessions.get(sid)
        if s is None:
            return 0
        tid = s.next_timer
        s.next_timer += 1
        s.timers.add(tid, mono_ms(), float(delay_ms), bool(repeat))
        return tid

    def end(sid: int) -> None:
        s = sessions.get(sid)
        if s is None:
            return
        conn = s.conn
        if conn is not None and not conn.done and not s.interrupted:
            try:
                conn.close(1001, "", validate=False)
            except Exception:  # noqa: BLE001
                pass
        _finish(s)

    def close_all() -> None:
        for s in list(sessions.values()):
            if s.conn is not None:
                s.conn.abort(1001)
            sessions.pop(s.sid, None)
        unhook_wake()

    vu.on_close.append(close_all)
    engine.export("ws.connect", connect)
    engine.export("ws.wait", wait)
    engine.export("ws.send", send)
    engine.export("ws.ping", ping)
    engine.export("ws.close", close)
    engine.export("ws.timer", add_timer)
    engine.export("ws.end", end)
