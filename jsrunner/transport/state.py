"""Pure WebSocket client state machine: no sockets, no threads, no clock.

This module decides *what* happens for every situation of websockets.md §4.4 — which
events fire, in which order, which metric samples are emitted with which tags, how
``readyState`` and ``bufferedAmount`` move — while :mod:`jsrunner.transport.client`
does the I/O.  Every method takes the current time (``now_ns``, ``time.time_ns()``) as
an argument and returns a list of *actions*:

``("event", kind, payload)``
    to be handed to the VU's ``on_event`` (and dispatched to JS after :meth:`WSState.accept`)
``("sample", {"name", "value", "tags", "time_ns"})``
    a metric sample
``("log", level, message)``
    a log line for the VU's logger (e.g. the unknown-pong warning)
``("send_close", code, reason, counted)``
    the driver must write a Close frame (``counted``: the frame counts in ``ws_msgs_sent``)

Two sides touch the state:

* the **I/O side** (driver thread): ``dial_*``, ``handshake_ok``, ``frame_written``,
  ``message_received``, ``ping_received``, ``pong_received``, ``peer_close``,
  ``transport_eof``, ``transport_error``;
* the **VU side** (JS thread): ``check_open``, ``queue_send``, ``request_close``,
  ``next_ping_id`` and :meth:`WSState.accept`, which is called right before an event is
  dispatched to JS.  ``ready_state``, ``buffered_amount``, ``protocol`` and
  ``extensions`` are the JS-visible values and only change on the VU side, exactly as in
  k6, where they are only updated on the event loop.

The caller serialises access (the driver holds one lock per connection).
"""

from __future__ import annotations

import functools
from typing import Any, Iterable

CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3

#: k6's default ``systemTags`` (the ones relevant here are url, name, status, subproto).
DEFAULT_SYSTEM_TAGS = frozenset({
    "proto", "subproto", "status", "method", "url", "name", "group", "check", "error",
    "error_code", "tls_version", "scenario", "service", "expected_response",
})

# gorilla/websocket CloseError.Error() names
_CLOSE_NAMES = {
    1000: "normal", 1001: "going away", 1002: "protocol error", 1003: "unsupported data",
    1005: "no status", 1006: "abnormal closure", 1007: "invalid payload data",
    1008: "policy violation", 1009: "message too big", 1010: "mandatory extension missing",
    1011: "internal server error", 1015: "TLS handshake error",
}

ABNORMAL_EOF_TEXT = "websocket: close 1006 (abnormal closure): unexpected EOF"


class InvalidStateError(Exception):
    """``send()``/``ping()`` while not OPEN.  JS: Error, name ``GoError``, message ``InvalidStateError``."""

    js_name = "GoError"

    def __init__(self) -> None:
        super().__init__("InvalidStateError")
        self.message = "InvalidStateError"


class CloseArgumentError(Exception):
    """Invalid ``close(code, reason)`` arguments (v1.5+ validation, websockets.md §3.2)."""

    js_name = "GoError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def close_error_text(code: int, reason: str = "") -> str:
    """Go's ``websocket.CloseError.Error()``: ``websocket: close 1011 (internal server error)``."""
    s = f"websocket: close {code}"
    name = _CLOSE_NAMES.get(code)
    if name:
        s += f" ({name})"
    if reason:
        s += ": " + reason
    return s


def validate_close_args(code: Any, reason: Any) -> tuple[int, str]:
    """Apply the v1.5+ ``close()`` validation; returns the ``(code, reason)`` to send."""
    code = int(code or 0)
    reason = "" if reason is None else str(reason)
    if code != 0 and not (code == 1000 or 3000 <= code <= 4999):
        raise CloseArgumentError(
            "InvalidAccessError: Failed to execute 'close' on 'WebSocket': The close code "
            f"must be either 1000, or between 3000 and 4999. {code} is neither")
    if len(reason.encode("utf-8", "surrogatepass")) > 123:
        raise CloseArgumentError(
            "SyntaxError: Failed to execute 'close' on 'WebSocket': "
            "The message must not be greater than 123 bytes")
    return (code or 1000), reason


@functools.lru_cache(maxsize=1024)
def canonical_header_key(key: str) -> str:
    """Go's ``textproto.CanonicalMIMEHeaderKey`` (``x-foo`` → ``X-Foo``, ``X_bar`` unchanged).

    Cached: every handshake response brings the same few header names again."""
    valid = "!#$%&'*+-.^_`|~"
    for ch in key:
        if not (ch.isascii() and (ch.isalnum() or ch in valid)):
            return key
    out = []
    upper = True
    for ch in key:
        out.append(ch.upper() if upper else ch.lower())
        upper = ch == "-"
    return "".join(out)


class WSState:
    """State of one WebSocket; see the module docstring for the two sides."""

    def __init__(self, url: str, *, tags: dict[str, str] | None = None,
                 system_tags: Iterable[str] | None = None, legacy: bool = False) -> None:
        self.url = url
        self.legacy = legacy
        self.system_tags = DEFAULT_SYSTEM_TAGS if system_tags is None else frozenset(system_tags)
        # -- JS-visible (VU side) --
        self.ready_state = CONNECTING
        self.buffered_amount = 0
        self.protocol = ""
        self.extensions: list[str] = []
        # -- transport (I/O side) --
        #: "connecting" | "open" | "closing" (our Close frame is out) | "closed"
        self.phase = "connecting"
        self.started_ns: int | None = None
        self.opened = False
        self.close_requested: tuple[int, str] | None = None
        self.close_sent = False
        self.close_code: int | None = None
        self.close_reason = ""
        self.io_protocol = ""
        self.io_extensions: list[str] = []
        self._pings: dict[str, int] = {}
        self._ping_counter = 0
        self._written_pending = 0
        self._sent_event_queued = False
        self._close_dispatched = False
        self.tags = self._base_tags(dict(tags or {}))

    # ------------------------------------------------------------------ tags
    def _base_tags(self, user: dict[str, str]) -> dict[str, str]:
        tags = {k: str(v) for k, v in user.items()}
        if self.legacy:
            if "url" in self.system_tags:
                tags["url"] = self.url
            return tags
        if "name" in user:
            # v0.50+: a user `name` tag also overrides the `url` tag
            if "url" in self.system_tags:
                tags["url"] = str(user["name"])
        else:
            if "url" in self.system_tags:
                tags["url"] = self.url
            if "name" in self.system_tags:
                tags["name"] = self.url
        return tags

    def _response_tags(self, status: int | None, subproto: str, ip: str | None) -> None:
        # copy on write: samples share ``self.tags`` (never mutated once handed out)
        tags = dict(self.tags)
        if ip and "ip" in self.system_tags:
            tags["ip"] = ip
        if status is not None:
            if "status" in self.system_tags:
                tags["status"] = str(status)
            if "subproto" in self.system_tags:
                tags["subproto"] = subproto
        self.tags = tags

    def _sample(self, name: str, value: float, time_ns: int) -> tuple:
        # the tags dict is shared by the samples of this socket: consumers must not mutate it
        return ("sample", {"name": name, "value": value, "tags": self.tags, "time_ns": time_ns})

    def _connection_samples(self, now_ns: int) -> list[tuple]:
        start = self.started_ns if self.started_ns is not None else now_ns
        return [self._sample("ws_sessions", 1, start),
                self._sample("ws_connecting", (now_ns - start) / 1e6, start)]

    # ------------------------------------------------------------ I/O side
    def dial_started(self, now_ns: int) -> None:
        self.started_ns = now_ns

    def dial_failed(self, now_ns: int, error: str, *, status: int | None = None,
                    ip: str | None = None, details: dict | None = None) -> list[tuple]:
        """Connect refused, DNS, TLS, timeout, non-101 (``status`` given), cancelled dial."""
        if self.phase == "closed":
            return []
        self._response_tags(status, "", ip)
        self.phase = "closed"
        actions = self._connection_samples(now_ns)
        payload = {"error": error}
        if details:
            payload.update(details)
        actions.append(("event", "error", payload))
        actions.append(("event", "close", self._close_payload()))
        return actions

    def handshake_ok(self, now_ns: int, *, status: int = 101, protocol: str = "",
                     extensions: list[str] | None = None, ip: str | None = None,
                     details: dict | None = None) -> list[tuple]:
        if self.phase != "connecting":
            return []
        self._response_tags(status, protocol, ip)
        self.io_protocol = protocol
        self.io_extensions = list(extensions or [])
        self.opened = True
        actions = self._connection_samples(now_ns)
        if self.close_requested is not None:
            # close() while CONNECTING (§3.2): no `open`, just send the Close frame
            code, reason = self.close_requested
            self.phase = "closing"
            self.close_sent = True
            actions.append(("send_close", code, reason, not self.legacy))
            return actions
        self.phase = "open"
        payload = {"protocol": protocol, "extensions": list(self.io_extensions), "status": status}
        if details:
            payload.update(details)
        actions.append(("event", "open", payload))
        return actions

    def frame_written(self, kind: str, nbytes: int, now_ns: int) -> list[tuple]:
        """A frame went out.  ``kind``: text, binary, ping, close (from close()), pong/close_echo."""
        actions: list[tuple] = []
        if kind in ("text", "binary"):
            self._written_pending += nbytes
            if not self._sent_event_queued:
                self._sent_event_queued = True
                actions.append(("event", "sent", {}))
            actions.append(self._sample("ws_msgs_sent", 1, now_ns))
        elif kind in ("ping", "close") and not self.legacy:
            actions.append(self._sample("ws_msgs_sent", 1, now_ns))
        return actions

    def message_received(self, payload: dict, now_ns: int) -> list[tuple]:
        """A complete text/binary message; dropped when close() was already called."""
        if self.phase != "open" or self.close_requested is not None:
            return []
        payload["time_ns"] = now_ns
        return [("event", "message", payload)]

    def ping_received(self, now_ns: int) -> list[tuple]:
        if self.phase in ("closed",):
            return []
        return [("event", "ping", {})]

    def pong_received(self, data: bytes, now_ns: int) -> list[tuple]:
        if self.phase == "closed":
            return []
        ping_id = data.decode("utf-8", "replace")
        sent = self._pings.pop(ping_id, None)
        if sent is None:
            return [("log", "warning", f"received pong for unknown ping ID {ping_id}"),
                    ("event", "pong", {"rtt_ms": None, "id": ping_id})]
        rtt = (now_ns - sent) / 1e6
        return [self._sample("ws_ping", rtt, now_ns),
                ("event", "pong", {"rtt_ms": rtt, "id": ping_id})]

    def _finish(self, now_ns: int, error: str | None) -> list[tuple]:
        self.phase = "closed"
        actions: list[tuple] = []
        if self.opened:
            start = self.started_ns if self.started_ns is not None else now_ns
            actions.append(self._sample("ws_session_duration", (now_ns - start) / 1e6,
                                        start if self.legacy else now_ns))
        if error is not None:
            actions.append(("event", "error", {"error": error}))
        actions.append(("event", "close", self._close_payload()))
        return actions

    def _close_payload(self) -> dict:
        return {"code": self.close_code, "reason": self.close_reason}

    def peer_close(self, code: int | None, reason: str, now_ns: int) -> list[tuple]:
        """The server's Close frame arrived (``code`` None = empty payload = 1005)."""
        if self.phase in ("connecting", "closed"):
            return []
        code = 1005 if code is None else code
        actions: list[tuple] = []
        if not self.close_sent:
            # gorilla's default close handler echoes the code (not counted as ws_msgs_sent)
            self.close_sent = True
            actions.append(("send_close", code, "", False))
        self.close_code, self.close_reason = code, reason
        # k6: any peer code but 1000/1001 is reported as an error (also the echo of 3001)
        error = close_error_text(code, reason) if code not in (1000, 1001) else None
        return actions + self._finish(now_ns, error)

    def transport_eof(self, now_ns: int) -> list[tuple]:
        """TCP closed by the peer without a Close frame."""
        if self.phase == "closed":
            return []
        if self.phase == "connecting":
            return self.dial_failed(now_ns, "unexpected EOF")
        self.close_code, self.close_reason = 1006, "unexpected EOF"
        return self._finish(now_ns, ABNORMAL_EOF_TEXT)

    def transport_error(self, now_ns: int, text: str, *, during: str = "read") -> list[tuple]:
        """A read error (reset, protocol error: no ``error`` event in k6) or a write error."""
        if self.phase == "closed":
            return []
        if self.phase == "connecting":
            return self.dial_failed(now_ns, text)
        if self.legacy and during == "read" and self.close_code is None:
            self.close_code = 1001  # k6/ws: CloseGoingAway when no close frame was read
        return self._finish(now_ns, text if during == "write" else None)

    def local_teardown(self, now_ns: int) -> list[tuple]:
        """Legacy k6/ws close(): our Close frame is out, tear down without waiting for the echo."""
        if self.phase == "closed":
            return []
        return self._finish(now_ns, None)

    # ------------------------------------------------------------- VU side
    def check_open(self) -> None:
        if self.ready_state != OPEN:
            raise InvalidStateError()

    def queue_send(self, nbytes: int) -> None:
        """``send()``: bufferedAmount grows by the payload length (before compression)."""
        self.check_open()
        self.buffered_amount += nbytes

    def next_ping_id(self, now_ns: int) -> str:
        self.check_open()
        ping_id = str(self._ping_counter)
        self._ping_counter += 1
        self._pings[ping_id] = now_ns
        return ping_id

    def request_close(self, code: Any = None, reason: Any = "", *,
                      validate: bool = True) -> list[tuple] | None:
        """``close()``.  Returns None for a no-op (CLOSING/CLOSED), else actions (maybe empty).

        Raises :class:`CloseArgumentError` (state unchanged) for invalid arguments.
        """
        if self.ready_state in (CLOSING, CLOSED):
            return None
        if validate:
            code, reason = validate_close_args(code, reason)
        else:
            code = int(code or (1001 if self.legacy else 1000))
            reason = "" if reason is None else str(reason)
        self.ready_state = CLOSING
        self.close_requested = (code, reason)
        if self.close_code is None:
            self.close_code = code
        if self.phase == "open":
            self.phase = "closing"
            self.close_sent = True
            return [("send_close", code, reason, not self.legacy)]
        return []  # CONNECTING: sent when the handshake finishes; closing/closed: nothing

    def accept(self, kind: str, payload: dict) -> tuple[bool, list[tuple]]:
        """Call right before dispatching an event to JS.  Returns (dispatch?, actions)."""
        if kind == "sent":
            self.buffered_amount = max(0, self.buffered_amount - self._written_pending)
            self._written_pending = 0
            self._sent_event_queued = False
            return False, []
        if kind == "open":
            if self.ready_state != CONNECTING:
                return False, []
            self.ready_state = OPEN
            self.protocol, self.extensions = self.io_protocol, list(self.io_extensions)
            return True, []
        if kind == "message":
            if self.ready_state != OPEN:
                return False, []
            return True, [self._sample("ws_msgs_received", 1, payload.get("time_ns", 0))]
        if kind in ("error", "close"):
            if self._close_dispatched:
                return False, []
            self.ready_state = CLOSED
            self.protocol, self.extensions = self.io_protocol, list(self.io_extensions)
            if kind == "close":
                self._close_dispatched = True
                if payload.get("code") is None and self.close_requested is not None:
                    # k6 reads closeCode at dispatch: close() on the loop set the local code
                    payload["code"] = self.close_requested[0]
                # everything queued is gone with the connection (never negative)
                self.buffered_amount = max(0, self.buffered_amount - self._written_pending)
                self._written_pending = 0
            return True, []
        return True, []

    # ------------------------------------------------------------ data_sent/received
    @staticmethod
    def data_samples(sent: int, received: int, tags: dict[str, str], now_ns: int) -> list[dict]:
        """``data_sent``/``data_received`` samples (pushed at iteration end, iteration tags)."""
        out = []
        if sent:
            out.append({"name": "data_sent", "value": sent, "tags": dict(tags), "time_ns": now_ns})
        if received:
            out.append({"name": "data_received", "value": received, "tags": dict(tags),
                        "time_ns": now_ns})
        return out
