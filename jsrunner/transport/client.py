"""The WebSocket I/O driver: one :class:`WebSocketConnection` per JS socket.

Dialing (DNS via the hub's resolver threads, non-blocking TCP connect, optional HTTP
CONNECT proxy, TLS, HTTP upgrade) and reading run on a shared selector loop
(:mod:`jsrunner.transport.hub`); no thread per socket.  Sends write straight to the
non-blocking socket from the calling (VU) thread under a per-socket lock and leave any
rest to the loop, so the JS thread never waits for the network.

Contract with the VU runtime (see also :mod:`jsrunner.transport.state`):

* ``on_event(kind, payload)`` is called from the I/O thread (and, for ``sent``/``metric``
  events, from the thread calling ``send_*``/``ping``/``close``); it must only enqueue.
* Before dispatching a dequeued event to JS, the VU loop calls
  ``conn.accept(kind, payload)``; when it returns False the event is not dispatched
  (late ``open``, messages after ``close()``, internal ``sent`` bookkeeping, …).  This
  keeps ``ready_state``/``buffered_amount`` exactly as k6 shows them, i.e. updated on the
  event loop, and emits ``ws_msgs_received`` at dispatch time.
* Metric samples go to ``on_sample(sample)`` when given, else to
  ``on_event("metric", sample)``; a sample is ``{"name", "value", "tags", "time_ns"}``.
* Log lines (the unknown-pong warning) are ``on_event("log", {"level", "message"})``.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import ipaddress
import os
import selectors
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import urllib.request
from typing import Any, Callable, Iterable

from .. import __version__, fibers
from . import state as st
from .deflate import OFFER, NegotiationError, PerMessageDeflate
from .frames import (OP_BINARY, OP_CLOSE, OP_ERROR, OP_PING, OP_PONG, OP_TEXT, FrameParser,
                     READ_LIMIT_ERROR,
                     close_payload, encode_frame)
from . import heldio
from .hub import TransportHub, get_hub

EVENT_READ, EVENT_WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
#: largest message accepted from a server: more cannot be handed to a VU (a QuickJS runtime
#: holds 128 MiB), so the connection fails with close 1009 and k6's (gorilla's)
#: "websocket: read limit exceeded" instead of buffering it (k6 itself sets no limit)
MAX_MESSAGE_SIZE = 64 << 20
#: most bytes one socket reads per readiness event before its events are handed over
_READ_ROUND = 1 << 20
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_CHUNK = 256 * 1024
_MAX_HEADER = 64 * 1024
_BODY_LIMIT = 1024  # gorilla keeps the first 1 KiB of a failed handshake's body
_BODY_GRACE = 1.0
#: write from the sending thread when the socket takes it; False = every write goes through
#: the loop thread.  Measured (bench/bench_transport.py, noisy 2-core box): 5.7-8.3k vs
#: 4.1-7.3k echo round trips/s, ~20% less CPU per round trip.
DIRECT_WRITE = True
_VALID_RECEIVED_CODES = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013}
_DUPLICATE_NOT_ALLOWED = {"Upgrade", "Connection", "Sec-Websocket-Key", "Sec-Websocket-Version",
                          "Sec-Websocket-Extensions"}

#: create sockets non-blocking in one call where the platform can
_SOCK_NONBLOCK = getattr(socket, "SOCK_NONBLOCK", 0)
_nonce_pool = bytearray()
_nonce_lock = threading.Lock()


def _nonce16() -> bytes:
    """16 random bytes for a Sec-WebSocket-Key, cut from a pool refilled 4 KiB at a time.

    ``os.urandom`` releases the GIL around its system call; one call per dial handed the
    GIL away once more per connection during connect storms (see hub.py).
    """
    with _nonce_lock:
        if len(_nonce_pool) < 16:
            _nonce_pool[:] = os.urandom(4096)
        out = bytes(_nonce_pool[-16:])
        del _nonce_pool[-16:]
    return out


if hasattr(os, "register_at_fork"):  # a forked worker must not reuse its parent's bytes
    os.register_at_fork(after_in_child=_nonce_pool.clear)


# transport phases
_RESOLVING, _TCP, _PROXY_SEND, _PROXY_RECV, _TLS, _REQ_SEND, _RESP_RECV, _BODY, _OPEN, _DONE = range(10)


def _errtext(e: BaseException) -> str:
    """Go's syscall error text: lower-case strerror (``connection refused``)."""
    if isinstance(e, OSError) and e.errno:
        s = os.strerror(e.errno)
        return s[:1].lower() + s[1:]
    return str(e) or type(e).__name__


def _fmt_addr(addr: Any) -> str:
    host, port = addr[0], addr[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _tls_error_text(e: BaseException) -> str:
    if isinstance(e, ssl.SSLCertVerificationError):
        msg = (e.verify_message or "").lower()
        if "hostname mismatch" in msg or "ip address mismatch" in msg:
            return f"tls: failed to verify certificate: x509: {e.verify_message}"
        if "expired" in msg:
            return "tls: failed to verify certificate: x509: certificate has expired or is not yet valid"
        return "tls: failed to verify certificate: x509: certificate signed by unknown authority"
    if isinstance(e, ssl.SSLError):
        reason = (getattr(e, "reason", None) or str(e)).lower().replace("_", " ")
        if "alert" in reason:
            return "remote error: tls: " + reason.replace("tlsv1 alert ", "").replace("sslv3 alert ", "")
        return "tls: " + reason
    return _errtext(e)


def _safe_utf8(s: str) -> bytes:
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates become U+FFFD, as in k6
        return "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in s).encode("utf-8")


def _cookie_header(cookies: Any) -> str | None:
    if not cookies:
        return None
    if isinstance(cookies, str):
        return cookies
    items = cookies.items() if isinstance(cookies, dict) else cookies
    return "; ".join(f"{k}={v}" for k, v in items)


def _proxy_for(scheme: str, host: str) -> tuple[str, int, str | None] | None:
    """Go's ProxyFromEnvironment: HTTPS_PROXY for wss, HTTP_PROXY for ws, NO_PROXY, no loopback."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get("https" if scheme == "wss" else "http")
    if not proxy or urllib.request.proxy_bypass_environment(host, proxies):
        return None
    if "://" not in proxy:
        proxy = "http://" + proxy
    u = urllib.parse.urlsplit(proxy)
    if u.scheme not in ("http", ""):
        return None
    auth = None
    if u.username is not None:
        cred = f"{urllib.parse.unquote(u.username)}:{urllib.parse.unquote(u.password or '')}"
        auth = "Basic " + base64.b64encode(cred.encode()).decode()
    return u.hostname or "", u.port or 80, auth


class WebSocketConnection:
    """One client WebSocket.  Construct on the VU thread, then :meth:`start`.

    Parameters: ``url`` (ws/wss, already validated), ``protocols`` (list of subprotocols),
    ``headers`` (request headers; names are Go-canonicalised), ``cookies`` (a ``Cookie``
    header value, a dict or ``(name, value)`` pairs), ``compression`` (``"deflate"`` or
    None), ``tls_verify``, ``ssl_context`` (overrides ``tls_verify``), ``handshake_timeout``
    (s), ``on_event``, ``on_sample``, ``tags`` (VU/scenario/group/user tags for ``ws_*``
    samples), ``system_tags`` (enabled system tags; default k6's), ``legacy`` (k6/ws
    semantics: close() tears down at once, control frames not counted, no ``name`` tag),
    ``hub`` (default: the process-wide hub), ``inbox`` (the owning VU's
    :class:`jsrunner.transport.inbox.Inbox`: once open, a plain-TCP socket is read by the VU
    thread itself while it waits, see :meth:`read_direct`).
    """

    def __init__(self, url: str, *, protocols: Iterable[str] | None = None,
                 headers: dict[str, Any] | None = None, cookies: Any = None,
                 compression: str | None = None, tls_verify: bool = True,
                 ssl_context: ssl.SSLContext | None = None, handshake_timeout: float = 60.0,
                 on_event: Callable[[str, dict], None],
                 on_sample: Callable[[dict], None] | None = None,
                 tags: dict[str, str] | None = None, system_tags: Iterable[str] | None = None,
                 legacy: bool = False, hub: TransportHub | None = None,
                 inbox: Any = None) -> None:
        self.url = url
        u = urllib.parse.urlsplit(url)
        self._scheme = u.scheme.lower()
        self._host = u.hostname or ""
        self._port = u.port or (443 if self._scheme == "wss" else 80)
        self._hostport = u.netloc.rsplit("@", 1)[-1]
        self._basic_auth = None
        if u.username is not None:  # like Go: userinfo in the URL → basic auth
            cred = f"{urllib.parse.unquote(u.username)}:{urllib.parse.unquote(u.password or '')}"
            self._basic_auth = "Basic " + base64.b64encode(cred.encode()).decode()
        self._resource = (u.path or "/") + (f"?{u.query}" if u.query else "")
        self._protocols = [str(p) for p in protocols] if protocols is not None else []
        self._headers = [(st.canonical_header_key(str(k)), str(v)) for k, v in (headers or {}).items()]
        self._cookie = _cookie_header(cookies)
        if compression not in (None, "", "deflate"):
            raise ValueError(f"unsupported compression algorithm '{compression}', "
                             "supported algorithm is 'deflate'")
        self._compress_offer = compression == "deflate"
        self._tls_verify = tls_verify
        self._ssl_context = ssl_context
        self._timeout = handshake_timeout
        self._on_event = on_event
        self._on_sample = on_sample
        self._hub = hub or get_hub()
        self._loop = None
        self.state = st.WSState(url, tags=tags, system_tags=system_tags, legacy=legacy)
        self.legacy = legacy

        self._lock = threading.Lock()
        self._done = fibers.Event()
        self._started = False
        self._aborted = False
        self._abort_code = 1000
        self._abort_send_close = True
        self._phase = _RESOLVING
        self._sock: socket.socket | ssl.SSLSocket | None = None
        self._registered = 0  # current selector mask
        self._read_paused = False  # flow control: pause_reading()/resume_reading()
        #: the last read_direct stopped with data possibly left (inbox.py reads again)
        self.direct_more = False
        #: direct reading (see inbox.py): the owner's inbox, whether the I/O thread reads
        #: (changed on the loop thread only), a hand-over to the owner requested
        self._inbox = inbox if self._scheme == "ws" else None
        self._hub_reads = True
        self._direct_req = False
        self._addr: Any = None
        self._local: str = ""
        self._timer = None
        self._out = bytearray()
        self._frames: list[tuple[int, str, int]] = []  # (end offset in _out, kind, payload len)
        self._hs_buf = bytearray()
        self._hs_key = ""
        self._resp: dict[str, Any] | None = None
        self._body_deadline = 0.0
        self._parser: FrameParser | None = None
        self._deflate: PerMessageDeflate | None = None
        self._proxy = None
        self._tls = False
        #: plain TCP: reads and writes keep the GIL (heldio); TLS goes through ssl
        self._held = heldio.available
        self._teardown_after_flush = False
        self._write_failed = False
        self.bytes_sent = 0
        self.bytes_received = 0
        self._reported = (0, 0)

    # ================================================================ VU-side API
    @property
    def ready_state(self) -> int:
        return self.state.ready_state

    @property
    def buffered_amount(self) -> int:
        return self.state.buffered_amount

    @property
    def protocol(self) -> str:
        return self.state.protocol

    @property
    def extensions(self) -> list[str]:
        return list(self.state.extensions)

    def start(self) -> None:
        """Start dialing in the background; never blocks."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self.state.dial_started(time.time_ns())
        self._hub.add(self)
        try:
            self._loop = self._hub.loop()
        except RuntimeError as e:
            self._fail_from_any_thread(str(e))
            return
        self._loop.call_soon(self._begin)

    def accept(self, kind: str, payload: dict) -> bool:
        """Call on the VU thread right before dispatching an event; False → don't dispatch."""
        with self._lock:
            ok, actions = self.state.accept(kind, payload)
        if actions:
            self._emit(actions)
        return ok

    def send_text(self, text: str) -> None:
        data = _safe_utf8(text)
        self._send(OP_TEXT, data, "text")

    def send_binary(self, data: bytes) -> None:
        self._send(OP_BINARY, bytes(data), "binary")

    def _send(self, opcode: int, data: bytes, kind: str) -> None:
        n = len(data)
        state = self.state
        state.check_open()  # InvalidStateError unless OPEN (readyState: VU side only)
        payload, rsv1 = data, False
        if self._deflate is not None:
            payload, rsv1 = self._deflate.compress(data), True
        frame = encode_frame(opcode, payload, rsv1)
        if DIRECT_WRITE:
            # fast path: nothing queued before this frame and the socket takes all of it
            out: list = []
            with self._lock:
                state.buffered_amount += n  # queue_send(), in the same critical section
                sock = self._sock
                if self._phase == _OPEN and not self._out and sock is not None:
                    try:
                        sent = (heldio.send(sock.fileno(), frame) if self._held
                                else sock.send(frame))
                    except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError,
                            ssl.SSLWantReadError):
                        sent = 0
                    except OSError:
                        sent = -1  # the general path below reports the error
                    if sent == len(frame):
                        self.bytes_sent += sent
                        out = self.state.frame_written(kind, n, time.time_ns())
                    elif sent >= 0:
                        self.bytes_sent += sent
                        self._out += frame[sent:]
                        self._frames.append((len(self._out), kind, n))
                        frame = b""
            if out:
                self._emit(out)
                return
            if not frame:
                if self._loop is not None:
                    self._loop.call_soon(self._sync_interest)
                return
        else:
            with self._lock:
                state.queue_send(n)
        self._write_from_vu(frame, kind, n)

    # ---- flow control (any thread) ------------------------------------------------------
    def pause_reading(self) -> None:
        """Stop reading from the socket until :meth:`resume_reading` (the consumer is behind).

        The kernel buffers fill up and TCP flow control slows the peer down, as k6's reader
        goroutine blocks until the event loop has taken its message. Frames already read
        are still delivered; Ping, Close and EOF wait in the socket like the data.
        """
        self._read_paused = True

    def resume_reading(self) -> None:
        if self._read_paused:
            self._read_paused = False
            if self._loop is not None:
                self._loop.call_soon(self._resume_read)

    def _resume_read(self) -> None:
        self._sync_interest()
        if self._inbox is not None and self._phase == _OPEN and not self._read_paused:
            self._inbox.add_reader(self)  # offered back to the owner (see read_direct)
        sock = self._sock
        if self._tls and self._phase == _OPEN and sock is not None and not self._read_paused:
            try:
                pending = sock.pending()  # decrypted bytes the selector cannot see
            except (OSError, ValueError, AttributeError):
                pending = 0
            if pending:
                self._read_open()

    def ping(self) -> str:
        """Send a Ping with the next id as payload; returns the id."""
        with self._lock:
            ping_id = self.state.next_ping_id(time.time_ns())
        self._write_from_vu(encode_frame(OP_PING, ping_id.encode()), "ping", 0)
        return ping_id

    def close(self, code: int | None = None, reason: str = "", *, validate: bool = True) -> None:
        """``close()``: no-op when CLOSING/CLOSED; raises CloseArgumentError (v1.5 rules)."""
        with self._lock:
            actions = self.state.request_close(code, reason, validate=validate)
            if not actions:
                return
            out: list = []
            self._apply_locked(actions, out)
        self._after_vu_write(out)

    def cancel(self) -> None:
        """The iteration ended with an exception: cancel a dial (error ``operation was
        canceled`` + close) or close an open socket with 1000 (its events still fire)."""
        with self._lock:
            phase = self.state.phase
        if phase == "connecting":
            if self._loop is not None:
                self._loop.call_soon(self._cancel_dial)
        elif phase == "open":
            self.close(1000, "", validate=False)

    def abort(self, code: int = 1000, *, send_close: bool = True) -> None:
        """Interrupted iteration / end of run: no more events or samples; try to send
        Close ``code`` (k6/ws uses 1001), then drop the connection.  Idempotent.
        ``send_close=False`` drops the TCP connection without a Close frame (a JS handler
        threw: k6 closes the net.Conn, the peer sees 1006)."""
        with self._lock:
            if self._aborted:
                return
            self._aborted = True
            self._abort_code = code
            self._abort_send_close = send_close
        if self._loop is None or not self._started:
            self._mark_done()
            return
        if self._loop.in_loop():
            self._do_abort()
        else:
            self._loop.call_soon(self._do_abort)

    def join(self, timeout: float | None = None) -> bool:
        """Wait until the socket is closed and its last event delivered."""
        return self._done.wait(timeout)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def take_data_counts(self) -> tuple[int, int]:
        """Bytes sent/received on the wire since the previous call (for data_sent/received)."""
        with self._lock:
            s, r = self.bytes_sent, self.bytes_received
            ps, pr = self._reported
            self._reported = (s, r)
        return s - ps, r - pr

    # ================================================================ emission
    def _emit(self, actions: list) -> None:
        if self._aborted:
            return
        for a in actions:
            kind = a[0]
            try:
                if kind == "event":
                    self._on_event(a[1], a[2])
                elif kind == "sample":
                    if self._on_sample is not None:
                        self._on_sample(a[1])
                    else:
                        self._on_event("metric", a[1])
                elif kind == "log":
                    self._on_event("log", {"level": a[1], "message": a[2]})
            except Exception:  # pragma: no cover - the callback is the VU's
                import logging
                logging.getLogger("jsrunner.transport").exception("on_event failed")

    def _apply_locked(self, actions: list, out: list) -> None:
        """Run ``send_close`` actions (lock held); pass everything else on to ``out``."""
        for a in actions:
            if a[0] == "send_close":
                _, code, reason, counted = a
                self._queue_frame(encode_frame(OP_CLOSE, close_payload(code, reason)),
                                  "close" if counted else "close_echo", 0)
            else:
                out.append(a)
        if self.legacy and self.state.phase == "closing" and self.state.close_requested:
            # k6/ws close(): Close frame, close handlers with the local code, TCP closed
            out.extend(self.state.local_teardown(time.time_ns()))
            self._teardown_after_flush = True

    # ================================================================ writing
    def _queue_frame(self, frame: bytes, kind: str, nbytes: int) -> None:
        self._out += frame
        self._frames.append((len(self._out), kind, nbytes))

    def _write_from_vu(self, frame: bytes, kind: str, nbytes: int) -> None:
        out: list = []
        with self._lock:
            if self._phase == _DONE:
                return
            self._queue_frame(frame, kind, nbytes)
        self._after_vu_write(out)

    def _after_vu_write(self, out: list) -> None:
        need_loop = False
        with self._lock:
            if DIRECT_WRITE and self._phase == _OPEN and self._sock is not None:
                self._flush_locked(out)
            if self._out or self._teardown_after_flush or self._phase == _DONE_PENDING:
                need_loop = True
        if out:
            self._emit(out)
        if need_loop and self._loop is not None:
            self._loop.call_soon(self._sync_interest)

    def _flush_locked(self, out: list) -> None:
        """Write as much of ``_out`` as the socket takes now (never blocks)."""
        sock = self._sock
        written = 0
        buf = self._out
        mv = memoryview(buf)
        try:
            while written < len(buf):
                n = sock.send(mv[written:written + _CHUNK])
                if not n:
                    break
                written += n
        except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
            pass
        except OSError as e:
            mv.release()
            if written:
                self._account_written(written, out)
            if self._write_failed:
                return  # a Pong while _reset_seen_by_write() drains: it reports the end
            if (e.errno in (errno.ECONNRESET, errno.EPIPE) and self._phase == _OPEN
                    and self._parser is not None):
                self._write_failed = True
                self._reset_seen_by_write(out)
                return
            text = f"write tcp {self._local}->{_fmt_addr(self._addr)}: write: {_errtext(e)}"
            out.extend(self.state.transport_error(time.time_ns(), text, during="write"))
            self._phase = _DONE_PENDING
            return
        mv.release()  # the bytearray cannot shrink while exported
        if written:
            self._account_written(written, out)

    def _reset_seen_by_write(self, out: list) -> None:
        """A write found the connection reset: end it as a read of the reset would.

        k6 fires no ``error`` event for a reset after the handshake (its reader goroutine
        sees it first); here a VU thread that reads its own socket is often busy sending
        when the reset arrives, so the write meets it first (and consumes the socket's
        error: a read then only sees EOF). Data the peer sent before the reset is still
        delivered. Lock held, phase OPEN.
        """
        sock = self._sock
        for _ in range(64):
            try:
                data = sock.recv(65536)
            except OSError:  # would block, or the reset itself
                break
            if not data:
                break
            self.bytes_received += len(data)
            self._handle_bytes(data, out)
            if self._phase != _OPEN or self.state.phase == "closed":
                if self._phase == _OPEN:
                    self._phase = _DONE_PENDING
                return
        text = (f"read tcp {self._local}->{_fmt_addr(self._addr)}: read: "
                f"{_errtext(OSError(errno.ECONNRESET, ''))}")
        out.extend(self.state.transport_error(time.time_ns(), text, during="read"))
        self._phase = _DONE_PENDING

    def _account_written(self, written: int, out: list) -> None:
        del self._out[:written]
        self.bytes_sent += written
        now = time.time_ns()
        frames = self._frames
        i = 0
        while i < len(frames) and frames[i][0] <= written:
            _, kind, nbytes = frames[i]
            out.extend(self.state.frame_written(kind, nbytes, now))
            i += 1
        del frames[:i]
        for j in range(len(frames)):
            end, kind, nbytes = frames[j]
            frames[j] = (end - written, kind, nbytes)

    # ================================================================ loop side
    def _set_interest(self, mask: int) -> None:
        if self._sock is None or self._phase == _DONE:
            return
        if mask == self._registered:
            return
        if not self._registered:
            self._loop.sel.register(self._sock, mask, self._on_ready)
        elif not mask:
            self._loop.sel.unregister(self._sock)
        else:
            self._loop.sel.modify(self._sock, mask, self._on_ready)
        self._registered = mask

    def _sync_interest(self) -> None:
        out: list = []
        with self._lock:
            if self._phase == _DONE_PENDING or (self._teardown_after_flush and not self._out):
                self._teardown()
            elif self._phase == _OPEN:
                if self._out:
                    self._flush_locked(out)
                if self._phase == _DONE_PENDING or (self._teardown_after_flush and not self._out):
                    self._teardown()
                else:
                    read = EVENT_READ if self._hub_reads and not self._read_paused else 0
                    self._set_interest(read | (EVENT_WRITE if self._out else 0))
        self._emit(out)

    def _begin(self) -> None:
        if self._done.is_set() or self._aborted:
            self._mark_done()
            return
        self._timer = self._loop.call_later(self._timeout, self._on_timeout)
        self._proxy = _proxy_for(self._scheme, self._host)
        target_host, target_port = (self._proxy[0], self._proxy[1]) if self._proxy else (self._host, self._port)
        try:
            ip = ipaddress.ip_address(target_host)
        except ValueError:
            self._hub.resolve(target_host, target_port, self._loop, self._on_resolved)
            return
        fam = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        self._on_resolved([(fam, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (str(ip), target_port))])

    def _on_resolved(self, res: Any) -> None:
        if self._phase != _RESOLVING:
            return
        if isinstance(res, Exception):
            host = self._proxy[0] if self._proxy else self._host
            if isinstance(res, socket.gaierror) and res.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", -5)):
                text = f"dial tcp: lookup {host}: no such host"
            else:
                text = f"dial tcp: lookup {host}: {res.strerror or res}"
            self._dial_failed(text)
            return
        # k6 dials one address, IPv4 preferred
        res = sorted(res, key=lambda ai: 0 if ai[0] == socket.AF_INET else 1)
        fam, _, proto, _, addr = res[0]
        self._addr = addr
        try:
            # created non-blocking: no setblocking() ioctl, which releases the GIL (see hub.py)
            sock = socket.socket(fam, socket.SOCK_STREAM | _SOCK_NONBLOCK, proto)
            if not _SOCK_NONBLOCK:
                sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as e:
            self._dial_failed(f"dial tcp {_fmt_addr(addr)}: socket: {_errtext(e)}")
            return
        self._sock = sock
        self._phase = _TCP
        err = sock.connect_ex(addr[:2] if fam == socket.AF_INET else addr)
        if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            self._dial_failed(f"dial tcp {_fmt_addr(addr)}: connect: {_errtext(OSError(err, ''))}")
            return
        self._set_interest(EVENT_WRITE)

    def _on_ready(self, mask: int) -> None:
        phase = self._phase
        if phase == _OPEN:
            if mask & EVENT_READ:
                self._read_open()
            if mask & EVENT_WRITE and self._phase == _OPEN:
                self._sync_interest()
            return
        if phase == _TCP:
            err = self._sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self._dial_failed(f"dial tcp {_fmt_addr(self._addr)}: connect: {_errtext(OSError(err, ''))}")
                return
            try:
                la = self._sock.getsockname()
                self._local = _fmt_addr(la)
            except OSError:
                pass
            if self._proxy:
                req = f"CONNECT {self._host_for_connect()} HTTP/1.1\r\nHost: {self._host_for_connect()}\r\n"
                if self._proxy[2]:
                    req += f"Proxy-Authorization: {self._proxy[2]}\r\n"
                self._hs_out(req + "\r\n", _PROXY_SEND)
                return
            self._after_tcp()
            return
        if phase in (_PROXY_SEND, _REQ_SEND):
            self._hs_write()
            return
        if phase == _PROXY_RECV:
            self._proxy_read()
            return
        if phase == _TLS:
            self._tls_step()
            return
        if phase in (_RESP_RECV, _BODY):
            self._resp_read()

    def _host_for_connect(self) -> str:
        h = f"[{self._host}]" if ":" in self._host else self._host
        return f"{h}:{self._port}"

    def _after_tcp(self) -> None:
        if self._scheme == "wss":
            ctx = self._ssl_context
            if ctx is None:
                ctx = ssl.create_default_context()
                if not self._tls_verify:
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                ctx.set_alpn_protocols(["http/1.1"])
            self._set_interest(0)
            try:
                self._sock = ctx.wrap_socket(self._sock, server_hostname=self._host,
                                             do_handshake_on_connect=False)
                self._registered = 0  # new socket object: re-register
                self._tls = True
                self._held = False
            except (ssl.SSLError, OSError, ValueError) as e:
                self._dial_failed(_tls_error_text(e))
                return
            self._phase = _TLS
            self._tls_step()
            return
        self._send_request()

    def _tls_step(self) -> None:
        try:
            self._sock.do_handshake()
        except ssl.SSLWantReadError:
            self._set_interest(EVENT_READ)
            return
        except ssl.SSLWantWriteError:
            self._set_interest(EVENT_WRITE)
            return
        except (ssl.SSLError, OSError) as e:
            self._dial_failed(_tls_error_text(e))
            return
        self._send_request()

    def _send_request(self) -> None:
        self._hs_key = base64.b64encode(_nonce16()).decode()
        lines = [f"GET {self._resource} HTTP/1.1"]
        user = self._headers
        names = {k for k, _ in user}
        for k in names:
            if k in _DUPLICATE_NOT_ALLOWED or (k == "Sec-Websocket-Protocol" and self._protocols):
                self._dial_failed(f"websocket: duplicate header not allowed: {k}")
                return
        host = next((v for k, v in user if k == "Host"), self._hostport)
        lines.append(f"Host: {host}")
        if "User-Agent" not in names:
            lines.append(f"User-Agent: jsrunner/{__version__}")
        lines += ["Upgrade: websocket", "Connection: Upgrade",
                  f"Sec-WebSocket-Key: {self._hs_key}", "Sec-WebSocket-Version: 13"]
        if self._protocols:
            lines.append("Sec-WebSocket-Protocol: " + ", ".join(self._protocols))
        if self._compress_offer:
            lines.append("Sec-WebSocket-Extensions: " + OFFER)
        for k, v in user:
            if k == "Host":
                continue
            if k == "User-Agent" and not v:
                continue
            lines.append(f"{k}: {v}")
        if self._basic_auth and "Authorization" not in names:
            lines.append(f"Authorization: {self._basic_auth}")
        if self._cookie and "Cookie" not in names:
            lines.append(f"Cookie: {self._cookie}")
        self._hs_out("\r\n".join(lines) + "\r\n\r\n", _REQ_SEND)

    def _hs_out(self, text: str, phase: int) -> None:
        self._out = bytearray(text.encode("utf-8", "surrogateescape"))
        self._phase = phase
        self._hs_write()

    def _hs_write(self) -> None:
        try:
            held = self._held  # False once TLS wraps the socket
            while self._out:
                n = heldio.send(self._sock.fileno(), bytes(self._out)) if held else self._sock.send(self._out)
                self.bytes_sent += n
                del self._out[:n]
        except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError):
            self._set_interest(EVENT_WRITE)
            return
        except ssl.SSLWantReadError:
            self._set_interest(EVENT_READ)
            return
        except OSError as e:
            self._dial_failed(f"write tcp {self._local}->{_fmt_addr(self._addr)}: write: {_errtext(e)}")
            return
        self._hs_buf = bytearray()
        self._phase = _PROXY_RECV if self._phase == _PROXY_SEND else _RESP_RECV
        self._set_interest(EVENT_READ)

    def _hs_recv(self) -> bytes | None:
        """Read what is available; b"" = EOF; None = nothing now (or failed)."""
        chunks = []
        held = self._held  # False once TLS wraps the socket
        try:
            while True:
                data = heldio.recv(self._sock.fileno()) if held else self._sock.recv(65536)
                if not data:
                    if chunks:
                        break
                    return b""
                self.bytes_received += len(data)
                chunks.append(data)
                if len(data) < 65536 and not (self._tls and self._sock.pending()):
                    break
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
        except OSError as e:
            if chunks:
                return b"".join(chunks)
            self._dial_failed(f"read tcp {self._local}->{_fmt_addr(self._addr)}: read: {_errtext(e)}")
            return None
        return b"".join(chunks) if chunks else None

    def _proxy_read(self) -> None:
        data = self._hs_recv()
        if data is None:
            return
        if data == b"":
            self._dial_failed("unexpected EOF" if self._hs_buf else "EOF")
            return
        self._hs_buf += data
        end = self._hs_buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._hs_buf) > _MAX_HEADER:
                self._dial_failed("net/http: HTTP/1.x transport connection broken: header too long")
            return
        head = bytes(self._hs_buf[:end]).decode("latin-1")
        rest = bytes(self._hs_buf[end + 4:])
        parts = head.split("\r\n", 1)[0].split(" ", 2)
        if len(parts) < 2 or parts[1] != "200":
            self._dial_failed(parts[2] if len(parts) > 2 else head.split("\r\n", 1)[0])
            return
        if rest:
            self._dial_failed("proxy sent data after CONNECT response")
            return
        self._after_tcp()

    def _resp_read(self) -> None:
        data = self._hs_recv()
        if data is None:
            return
        eof = data == b""
        if not eof:
            self._hs_buf += data
        if self._phase == _BODY:
            self._body_step(eof)
            return
        end = self._hs_buf.find(b"\r\n\r\n")
        if end < 0:
            if eof:
                self._dial_failed("unexpected EOF" if self._hs_buf else "EOF")
            elif len(self._hs_buf) > _MAX_HEADER:
                self._dial_failed("net/http: HTTP/1.x transport connection broken: header too long")
            return
        head = bytes(self._hs_buf[:end]).decode("latin-1")
        rest = bytes(self._hs_buf[end + 4:])
        lines = head.split("\r\n")
        parts = lines[0].split(" ", 2)
        try:
            if not parts[0].startswith("HTTP/"):
                raise ValueError
            status = int(parts[1])
        except (ValueError, IndexError):
            self._dial_failed(f"malformed HTTP response {lines[0]!r}")
            return
        raw: list[tuple[str, str]] = []
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                raw.append((k.strip(), v.strip()))
        headers: dict[str, list[str]] = {}
        for k, v in raw:
            headers.setdefault(st.canonical_header_key(k), []).append(v)
        self._resp = {"status": status, "status_text": parts[2] if len(parts) > 2 else "",
                      "raw": raw, "headers": headers}

        def has_token(name: str, token: str) -> bool:
            return any(token in [t.strip().lower() for t in v.split(",")] for v in headers.get(name, []))

        accept = base64.b64encode(hashlib.sha1(self._hs_key.encode() + _GUID).digest()).decode()
        if (status != 101 or not has_token("Upgrade", "websocket")
                or not has_token("Connection", "upgrade")
                or (headers.get("Sec-Websocket-Accept") or [""])[0] != accept):
            if status == 101:
                self._bad_handshake(b"")
                return
            self._hs_buf = bytearray(rest)
            self._phase = _BODY
            self._body_deadline = time.monotonic() + _BODY_GRACE
            self._timer.cancel()
            self._timer = self._loop.call_later(_BODY_GRACE, self._body_step, True)
            self._body_step(eof)
            return
        extensions = headers.get("Sec-Websocket-Extensions", [])
        try:
            self._deflate = PerMessageDeflate.from_response(extensions, self._compress_offer)
        except NegotiationError as e:
            self._dial_failed(str(e), status=status)
            return
        protocol = (headers.get("Sec-Websocket-Protocol") or [""])[0]
        self._open(status, protocol, extensions, rest)

    def _body_step(self, eof: bool) -> None:
        if self._phase != _BODY:
            return
        headers = self._resp["headers"]
        buf = bytes(self._hs_buf)
        body: bytes | None = None
        cl = (headers.get("Content-Length") or [None])[0]
        chunked = any("chunked" in v.lower() for v in headers.get("Transfer-Encoding", []))
        if chunked:
            decoded, pos, complete = bytearray(), 0, False
            while True:
                nl = buf.find(b"\r\n", pos)
                if nl < 0:
                    break
                try:
                    size = int(buf[pos:nl].split(b";")[0], 16)
                except ValueError:
                    complete = True
                    break
                if size == 0:
                    complete = True
                    break
                if len(buf) < nl + 2 + size:
                    break
                decoded += buf[nl + 2: nl + 2 + size]
                pos = nl + 4 + size
            if complete or eof or len(decoded) >= _BODY_LIMIT:
                body = bytes(decoded)
        elif cl is not None:
            try:
                want = min(int(cl), _BODY_LIMIT)
            except ValueError:
                want = 0
            if len(buf) >= want or eof:
                body = buf[:want]
        elif eof or len(buf) >= _BODY_LIMIT:
            body = buf
        if body is None and time.monotonic() >= self._body_deadline:
            body = buf
        if body is not None:
            self._bad_handshake(body[:_BODY_LIMIT])

    def _bad_handshake(self, body: bytes) -> None:
        r = self._resp
        self._dial_failed("websocket: bad handshake", status=r["status"], details={
            "status": r["status"], "headers": {k: ", ".join(v) for k, v in r["headers"].items()},
            "raw_headers": [list(p) for p in r["raw"]], "body": body.decode("utf-8", "replace")})

    def _open(self, status: int, protocol: str, extensions: list[str], rest: bytes) -> None:
        if self._timer:
            self._timer.cancel()
            self._timer = None
        r = self._resp
        details = {"headers": {k: ", ".join(v) for k, v in r["headers"].items()},
                   "raw_headers": [list(p) for p in r["raw"]]}
        self._resp = None  # handed over in the open event; not kept for the socket's lifetime
        self._hs_buf = bytearray()
        ip = self._addr[0] if self._addr and not self._proxy else None
        out: list = []
        with self._lock:
            if self._aborted:
                self._teardown()
                return
            self._parser = FrameParser(allow_rsv1=self._deflate is not None, max_size=MAX_MESSAGE_SIZE)
            self._phase = _OPEN
            if self._inbox is not None:
                self._inbox.add_reader(self)  # applied by the owner at its next wait
            self._out = bytearray()
            self._frames = []
            actions = self.state.handshake_ok(time.time_ns(), status=status, protocol=protocol,
                                              extensions=extensions, ip=ip, details=details)
            self._apply_locked(actions, out)
            self._flush_locked(out)
            if rest and self._phase == _OPEN and self.state.phase != "closed":
                self._handle_bytes(rest, out)
        self._emit(out)
        self._sync_interest()

    def _read_open(self) -> None:
        out: list = []
        with self._lock:
            if self._phase != _OPEN:
                return
            if self._read_paused:
                self._set_interest(EVENT_WRITE if self._out else 0)
                return
            sock = self._sock
            more = self._read_locked(out)
            if self._phase == _DONE_PENDING:
                if self._out:
                    self._flush_locked(out)
                self._teardown()
            elif more and self._tls and not self._read_paused and self._loop is not None:
                try:
                    pending = sock.pending()  # decrypted bytes the selector cannot see
                except (OSError, ValueError):
                    pending = 0
                if pending:
                    self._loop.call_soon(self._read_open)
        self._emit(out)

    def _read_locked(self, out: list) -> bool:
        """Read and handle what the socket has (lock held, phase OPEN, not paused).

        True when the round's budget ran out with more data possibly waiting.
        """
        sock = self._sock
        budget = _READ_ROUND  # then let the events out (and flow control act)
        held = self._held
        try:
            while True:
                data = heldio.recv(sock.fileno()) if held else sock.recv(65536)
                if not data:
                    out.extend(self.state.transport_eof(time.time_ns()))
                    self._phase = _DONE_PENDING
                    break
                self.bytes_received += len(data)
                self._handle_bytes(data, out)
                if self._phase != _OPEN or self.state.phase == "closed":
                    break
                budget -= len(data)
                if self._read_paused or budget <= 0:
                    break  # level-triggered: the selector reports the rest again
                if len(data) < 65536 and not (self._tls and sock.pending()):
                    break
        except (BlockingIOError, InterruptedError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
        except OSError as e:
            text = f"read tcp {self._local}->{_fmt_addr(self._addr)}: read: {_errtext(e)}"
            out.extend(self.state.transport_error(time.time_ns(), text, during="read"))
            self._phase = _DONE_PENDING
        if self.state.phase == "closed" and self._phase == _OPEN:
            self._phase = _DONE_PENDING
        return budget <= 0

    # ---- direct reading by the owning VU thread (inbox.py) -------------------------------
    def fileno_for_direct(self) -> int:
        """The socket's descriptor for the owner's poll; -1 once it is not open."""
        sock = self._sock
        if self._phase != _OPEN or sock is None:
            return -1
        return sock.fileno()

    def read_direct(self) -> bool:
        """The owner's poll saw the socket readable (VU thread). False: stop polling it."""
        out: list = []
        with self._lock:
            if self._phase != _OPEN:
                return False
            if self._read_paused:
                # back-pressure: the I/O thread owns the socket again (resume_reading
                # offers it back to the owner)
                if self._loop is not None:
                    self._loop.call_soon(self._hub_take)
                return False
            self.direct_more = self._read_locked(out)
            if self._phase == _DONE_PENDING and self._out:
                self._flush_locked(out)
            need_loop = self._phase == _DONE_PENDING or bool(self._out)
            still = self._phase == _OPEN
        self._emit(out)
        if need_loop and self._loop is not None:
            self._loop.call_soon(self._sync_interest)  # teardown / pending writes: loop thread
        return still

    def want_direct(self) -> None:
        """The owner polls the socket now (VU thread): the I/O thread may stop reading it."""
        if self._hub_reads and not self._direct_req and self._loop is not None:
            self._direct_req = True
            self._loop.call_soon(self._go_direct)

    def release_direct(self) -> None:
        """The owner stopped polling the socket (any thread): the I/O thread reads it."""
        if self._loop is not None:
            self._loop.call_soon(self._hub_take)

    def _go_direct(self) -> None:
        self._direct_req = False
        if self._phase != _OPEN or self._inbox is None:
            return
        self._hub_reads = False
        self._loop.watch(self)
        self._sync_interest()

    def _hub_take(self) -> None:
        if not self._hub_reads:
            self._hub_reads = True
            if self._phase == _OPEN:
                self._sync_interest()

    def check_owner_busy(self, now: float, busy_after: float) -> bool:
        """Loop thread, periodically while the owner reads: False = stop watching.

        An owner that has not waited on its inbox for ``busy_after`` seconds (a long
        handler, a blocking call) cannot read; the I/O thread takes the socket back so
        pings are answered and flow control works as with any other socket.
        """
        if self._phase != _OPEN or self._hub_reads:
            return False
        inbox = self._inbox
        if not inbox.sleeping and now - inbox.busy_since > busy_after:
            self._hub_reads = True
            inbox.reclaim = True
            self._sync_interest()
            return False
        return True

    def _handle_bytes(self, data: bytes, out: list) -> None:
        """Parse and handle frames (lock held, loop thread)."""
        state = self.state
        frames = self._parser.feed(data)
        now = time.time_ns()
        for opcode, payload, compressed in frames:
            if state.phase == "closed":
                return
            if opcode == OP_ERROR:
                message = payload.decode()
                self._protocol_error(message, out, 1009 if message == READ_LIMIT_ERROR else 1002)
                return
            if opcode == OP_TEXT or opcode == OP_BINARY:
                if state.phase != "open" or state.close_requested is not None:
                    continue  # dropped, not counted
                if compressed:
                    try:
                        payload = self._deflate.decompress(payload, MAX_MESSAGE_SIZE + 1)
                    except Exception:
                        self._protocol_error("invalid compressed data", out)
                        return
                    if len(payload) > MAX_MESSAGE_SIZE:
                        self._protocol_error(READ_LIMIT_ERROR, out, 1009)
                        return
                # state.message_received(), inlined: OPEN and close() not called (checked above)
                if opcode == OP_TEXT:
                    out.append(("event", "message", {"text": payload.decode("utf-8", "replace"),
                                                     "time_ns": now}))
                else:
                    out.append(("event", "message",
                                {"binary_b64": base64.b64encode(payload).decode("ascii"),
                                 "time_ns": now}))
            elif opcode == OP_PING:
                if not state.close_sent:
                    self._queue_frame(encode_frame(OP_PONG, payload), "pong", 0)
                    self._flush_locked(out)
                out.extend(state.ping_received(now))
            elif opcode == OP_PONG:
                out.extend(state.pong_received(payload, now))
            elif opcode == OP_CLOSE:
                if len(payload) == 1:
                    self._protocol_error("invalid close frame", out)
                    return
                code = None
                reason = ""
                if len(payload) >= 2:
                    code = struct.unpack("!H", payload[:2])[0]
                    if code not in _VALID_RECEIVED_CODES and not 3000 <= code <= 4999:
                        self._protocol_error(f"bad close code {code}", out)
                        return
                    try:
                        reason = payload[2:].decode("utf-8")
                    except UnicodeDecodeError:
                        self._protocol_error("invalid utf8 payload in close frame", out)
                        return
                actions = state.peer_close(code, reason, now)
                self._apply_locked(actions, out)
                self._flush_locked(out)
                self._phase = _DONE_PENDING
                return

    def _protocol_error(self, message: str, out: list, code: int = 1002) -> None:
        if not self.state.close_sent:
            self.state.close_sent = True
            reason = message if code == 1002 else ""
            self._queue_frame(encode_frame(OP_CLOSE, close_payload(code, reason)), "close_echo", 0)
            self._flush_locked(out)
        out.extend(self.state.transport_error(time.time_ns(), "websocket: " + message, during="read"))
        self._phase = _DONE_PENDING

    # ================================================================ endings
    def _dial_failed(self, text: str, *, status: int | None = None, details: dict | None = None) -> None:
        with self._lock:
            actions = self.state.dial_failed(time.time_ns(), text, status=status,
                                             ip=None, details=details)
            self._teardown()
        self._emit(actions)

    def _fail_from_any_thread(self, text: str) -> None:
        with self._lock:
            actions = self.state.dial_failed(time.time_ns(), text)
            self._phase = _DONE
        self._emit(actions)
        self._mark_done()

    def _on_timeout(self) -> None:
        self._timer = None
        if self._phase == _RESOLVING:
            self._dial_failed(f"dial tcp: lookup {self._proxy[0] if self._proxy else self._host}: i/o timeout")
        elif self._phase == _TCP:
            self._dial_failed(f"dial tcp {_fmt_addr(self._addr)}: i/o timeout")
        elif self._phase not in (_OPEN, _DONE, _DONE_PENDING):
            self._dial_failed(f"read tcp {self._local}->{_fmt_addr(self._addr)}: i/o timeout")

    def _cancel_dial(self) -> None:
        if self._phase in (_OPEN, _DONE, _DONE_PENDING):
            if self._phase == _OPEN:
                self.close(1000, "", validate=False)
            return
        host = _fmt_addr(self._addr) if self._addr else f"{self._host}:{self._port}"
        self._dial_failed(f"dial tcp {host}: operation was canceled")

    def _do_abort(self) -> None:
        with self._lock:
            if self._phase == _DONE:
                return
            if self._phase == _OPEN and not self.state.close_sent and self._abort_send_close:
                self.state.close_sent = True
                self._queue_frame(encode_frame(OP_CLOSE, close_payload(self._abort_code, "")),
                                  "close_echo", 0)
            if self._phase == _OPEN and self._out:
                self._flush_locked([])
            self.state.phase = "closed"
            self._teardown()

    def _teardown(self) -> None:
        """Close the socket and finish (loop thread, lock held)."""
        if self._phase == _DONE:
            return
        self._phase = _DONE
        if self._timer:
            self._timer.cancel()
            self._timer = None
        if self._sock is not None:
            if self._registered and self._loop is not None:
                try:
                    self._loop.sel.unregister(self._sock)
                except (KeyError, ValueError, OSError):
                    pass
            self._registered = 0
            try:
                self._sock.close()
            except OSError:
                pass
        self._out = bytearray()
        self._frames = []
        if self._loop is not None:
            self._loop.unwatch(self)
            self._loop.call_soon(self._mark_done)
        else:
            self._mark_done()

    def _mark_done(self) -> None:
        self._phase = _DONE
        self._hub.discard(self)
        self._done.set()


_DONE_PENDING = 10  # connection over; socket to be torn down on the loop thread
