"""Host side of ``k6/websockets`` / ``k6/experimental/websockets`` (websockets.md).

The JS shim (``js/websockets.js``) owns the script-visible objects; this module owns the
connections (:class:`jsrunner.transport.WebSocketConnection`, driven by the shared
transport thread) and moves their events to the VU thread:

* the transport calls ``on_event`` from its I/O thread, or from the VU thread itself when
  the VU read the socket while waiting (``inbox=vu.inbox``: see transport/inbox.py); events
  are appended to a per-VU deque and one ``vu.call_soon(deliver)`` is scheduled for the
  whole backlog (from the I/O thread only once it has handled every ready socket:
  ``IOLoop.defer``);
* ``deliver`` runs on the VU thread between two JS callbacks, passes every event through
  ``conn.accept`` (readyState/bufferedAmount bookkeeping, messages after ``close()``
  dropped, ``ws_msgs_received`` emitted) and hands the accepted ones to JS as *one*
  command ``[2, "wss", batch]``; the shim dispatches them in order — one poll of the VU
  loop per batch, never an eval per message;
* a handler may change what ``accept`` would have said about a later event of the same
  batch (``close()`` in a ``message`` handler, a handler throwing, the iteration
  failing): the shim skips those events and names them in ``wss.ack``. The
  ``ws_msgs_received`` samples of a batch are therefore held until the shim acknowledges
  it (after a skip, or after a batch with a ``close``) or the next batch is prepared,
  so only messages a script really saw are counted (k6 counts at dispatch);
* the internal ``sent`` event of a frame that ``send()`` wrote at once (bufferedAmount
  bookkeeping) waits for the next batch or a read of ``bufferedAmount`` instead of
  costing a loop turn per send.

Batch items (all arrays, ``sid`` = socket id):
``[sid, 0, protocol, extensions]`` open · ``[sid, 1, text, tsUs]`` text message ·
``[sid, 2, base64, tsUs]`` binary message · ``[sid, 3, errorText]`` error ·
``[sid, 4, code|None, reason, protocol, extensions, bufferedAmount]`` close ·
``[sid, 5]`` ping · ``[sid, 6]`` pong.  ``tsUs`` is Unix-epoch microseconds (an integer).

Metrics: transport samples (``time_ns``) become the runtime's ``[name, value, tags,
monoMs, metadata]`` rows for ``ctx.sample_sink``; tags are the VU's tags at construction
(scenario, group, user tags) + ``params.tags`` + the transport's system tags. The bytes
on the wire go to ``vu.data_sent``/``vu.data_received`` (emitted at iteration end) when
a socket's ``close`` is delivered.

Lifetime (websockets.md §5): ``vu.on_fail`` closes OPEN sockets with 1000 and cancels
dials (their events are still delivered while the failed iteration drains);
``vu.on_interrupt`` and ``vu.on_close`` abort everything silently.
"""

from __future__ import annotations

import base64
import collections
import functools
import threading
import time
from functools import partial
from typing import TYPE_CHECKING, Any

from ..gostrings import go_quote
from ..transport import CloseArgumentError, InvalidStateError, WebSocketConnection, WSState
from ..transport.hub import current_loop
from ..transport.state import canonical_header_key

if TYPE_CHECKING:
    from ..vu import VU

MALFORMED = "malformed ws or wss URL"
#: events handed to JS per command; the rest follows in the next one (timers interleave)
MAX_BATCH = 2048
#: ... and at most about this much message data (one bigger message still goes alone)
MAX_BATCH_CHARS = 4 << 20
#: back-pressure: a VU this far behind (undispatched events / message characters) stops
#: reading from its sockets (TCP then slows the peers down) until it is back under the
#: low marks, so a flood faster than the script keeps memory bounded
BACKLOG_HIGH = (8192, 16 << 20)
BACKLOG_LOW = (2048, 4 << 20)

_OPEN, _TEXT, _BINARY, _ERROR, _CLOSE, _PING, _PONG = range(7)
_READY_OPEN = 1  # readyState OPEN
_NO_PAYLOAD: dict = {}


# =========================================================================== Go's url.Parse

class URLError(Exception):
    pass


_HEX = "0123456789abcdefABCDEF"
_MODE_PATH, _MODE_HOST, _MODE_ZONE, _MODE_USER, _MODE_FRAGMENT, _MODE_QUERY = range(6)


def _should_escape(c: int, mode: int) -> bool:
    ch = chr(c)
    if ch.isascii() and ch.isalnum():
        return False
    if mode in (_MODE_HOST, _MODE_ZONE):
        if ch in "!$&'()*+,;=:[]<>\"":
            return False
    if ch in "-_.~":
        return False
    if ch in "$&+,/:;=?@":
        if mode == _MODE_PATH:
            return ch == "?"
        if mode == _MODE_USER:
            return ch in "@/?:"
        if mode == _MODE_QUERY:
            return True
        if mode == _MODE_FRAGMENT:
            return False
    if mode == _MODE_FRAGMENT and ch in "!()*":
        return False
    return True


def _unescape(s: bytes, mode: int) -> bytes:
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == 0x25:  # %
            if i + 2 >= n or chr(s[i + 1]) not in _HEX or chr(s[i + 2]) not in _HEX:
                bad = s[i:i + 3]
                raise URLError("invalid URL escape " + go_quote(bad.decode("utf-8", "replace")))
            if mode == _MODE_HOST and int(chr(s[i + 1]), 16) < 8 and s[i:i + 3] != b"%25":
                raise URLError("invalid URL escape " + go_quote(s[i:i + 3].decode()))
            if mode == _MODE_ZONE:
                v = int(s[i + 1:i + 3], 16)
                if s[i:i + 3] != b"%25" and v != 0x20 and _should_escape(v, _MODE_HOST):
                    raise URLError("invalid URL escape " + go_quote(s[i:i + 3].decode()))
            i += 3
        else:
            if mode in (_MODE_HOST, _MODE_ZONE) and c < 0x80 and _should_escape(c, mode):
                raise URLError("invalid character " + go_quote(chr(c)) + " in host name")
            i += 1
    out = bytearray()
    i = 0
    while i < n:
        c = s[i]
        if c == 0x25:
            out.append(int(s[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(c)
            i += 1
    return bytes(out)


def _escape(s: bytes, mode: int) -> str:
    out = []
    for c in s:
        if c >= 0x80 or _should_escape(c, mode):
            if c == 0x20 and mode == _MODE_QUERY:
                out.append("+")
            else:
                out.append(f"%{c:02X}")
        else:
            out.append(chr(c))
    return "".join(out)


def _valid_encoded(s: str) -> bool:
    for b in s.encode("utf-8", "surrogateescape"):
        if chr(b) in "!$&'()*+,;=:@[]%":
            continue
        if _should_escape(b, _MODE_PATH):
            return False
    return True


def _valid_port(p: str) -> bool:
    if p == "":
        return True
    return p[0] == ":" and all("0" <= ch <= "9" for ch in p[1:])


def _parse_host(host: bytes) -> bytes:
    if host.startswith(b"["):
        i = host.rfind(b"]")
        if i < 0:
            raise URLError("missing ']' in host")
        colon_port = host[i + 1:].decode("utf-8", "replace")
        if not _valid_port(colon_port):
            raise URLError(f"invalid port {go_quote(colon_port)} after host")
        zone = host[:i].find(b"%25")
        if zone >= 0:
            return (_unescape(host[:zone], _MODE_HOST) + _unescape(host[zone:i], _MODE_ZONE)
                    + _unescape(host[i:], _MODE_HOST))
    else:
        i = host.rfind(b":")
        if i != -1:
            colon_port = host[i:].decode("utf-8", "replace")
            if not _valid_port(colon_port):
                raise URLError(f"invalid port {go_quote(colon_port)} after host")
    return _unescape(host, _MODE_HOST)


_USERINFO_OK = set(b"-._:~!$&'()*+,;=%@")


class GoURL:
    """The parts of Go's ``*url.URL`` that k6's WebSocket constructor looks at."""

    def __init__(self) -> None:
        self.scheme = ""
        self.opaque = ""
        self.user: tuple[str, str | None] | None = None
        self.host = ""
        self.path = ""
        self.raw_path = ""
        self.omit_host = False
        self.force_query = False
        self.raw_query = ""
        self.fragment = ""

    def escaped_path(self) -> str:
        if self.raw_path and _valid_encoded(self.raw_path):
            try:
                if _unescape(self.raw_path.encode(), _MODE_PATH).decode("utf-8", "surrogateescape") == self.path:
                    return self.raw_path
            except URLError:
                pass
        if self.path == "*":
            return "*"
        return _escape(self.path.encode("utf-8", "surrogateescape"), _MODE_PATH)

    def string(self) -> str:
        buf = []
        if self.scheme:
            buf.append(self.scheme + ":")
        if self.opaque:
            buf.append(self.opaque)
        else:
            if self.scheme or self.host or self.user is not None:
                if not (self.omit_host and not self.host and self.user is None):
                    if self.host or self.path or self.user is not None:
                        buf.append("//")
                    if self.user is not None:
                        name, password = self.user
                        ui = _escape(name.encode("utf-8", "surrogateescape"), _MODE_USER)
                        if password is not None:
                            ui += ":" + _escape(password.encode("utf-8", "surrogateescape"), _MODE_USER)
                        buf.append(ui + "@")
                    if self.host:
                        buf.append(_escape(self.host.encode("utf-8", "surrogateescape"), _MODE_HOST))
            path = self.escaped_path()
            if path and path[0] != "/" and self.host:
                buf.append("/")
            if not buf:
                seg = path.split("/", 1)[0]
                if ":" in seg:
                    buf.append("./")
            buf.append(path)
        if self.force_query or self.raw_query:
            buf.append("?" + self.raw_query)
        return "".join(buf)


def go_url_parse(raw: str) -> GoURL:
    """Go's ``url.Parse`` (errors are the inner texts, e.g. ``missing ']' in host``)."""
    u_part, _, frag = raw.partition("#")
    try:
        url = _parse(u_part.encode("utf-8", "surrogatepass"))
    except URLError as exc:
        exc.url = u_part
        raise
    if frag:
        try:
            url.fragment = _unescape(frag.encode("utf-8", "surrogatepass"), _MODE_FRAGMENT).decode("utf-8", "replace")
        except URLError as exc:
            exc.url = raw  # Go reports the whole URL for a bad fragment
            raise
    return url


def _parse(raw: bytes) -> GoURL:
    if any(b < 0x20 or b == 0x7F for b in raw):
        raise URLError("net/url: invalid control character in URL")
    url = GoURL()
    if raw == b"*":
        url.path = "*"
        return url
    # scheme
    rest = raw
    for i, c in enumerate(raw):
        ch = chr(c)
        if ch.isascii() and ch.isalpha():
            continue
        if ch.isascii() and (ch.isdigit() or ch in "+-."):
            if i == 0:
                break
            continue
        if ch == ":":
            if i == 0:
                raise URLError("missing protocol scheme")
            url.scheme = raw[:i].decode().lower()
            rest = raw[i + 1:]
        break
    if rest.endswith(b"?") and rest.count(b"?") == 1:
        url.force_query = True
        rest = rest[:-1]
    else:
        rest, _, q = rest.partition(b"?")
        url.raw_query = q.decode("utf-8", "surrogateescape")
    if not rest.startswith(b"/"):
        if url.scheme:
            url.opaque = rest.decode("utf-8", "surrogateescape")
            return url
        seg = rest.split(b"/", 1)[0]
        if b":" in seg:
            raise URLError("first path segment in URL cannot contain colon")
    if (url.scheme or not rest.startswith(b"///")) and rest.startswith(b"//"):
        authority, rest = rest[2:], b""
        i = authority.find(b"/")
        if i >= 0:
            authority, rest = authority[:i], authority[i:]
        i = authority.rfind(b"@")
        host = _parse_host(authority[i + 1:] if i >= 0 else authority)
        if i >= 0:
            userinfo = authority[:i]
            if not all(c in _USERINFO_OK or chr(c).isalnum() for c in userinfo if c < 0x80):
                raise URLError("net/url: invalid userinfo")
            name, colon, password = userinfo.partition(b":")
            url.user = (_unescape(name, _MODE_USER).decode("utf-8", "surrogateescape"),
                        _unescape(password, _MODE_USER).decode("utf-8", "surrogateescape") if colon else None)
        url.host = host.decode("utf-8", "surrogateescape")
    elif url.scheme and rest.startswith(b"/"):
        url.omit_host = True
    path = _unescape(rest, _MODE_PATH).decode("utf-8", "surrogateescape")
    url.path = path
    raw_path = rest.decode("utf-8", "surrogateescape")
    url.raw_path = "" if _escape(path.encode("utf-8", "surrogateescape"), _MODE_PATH) == raw_path else raw_path
    return url


def check_url(raw: str) -> list[Any]:
    """k6's ``parseURL``: ``["ok", url.String(), dialError|None]`` or ``["err", message]``.

    ``dialError`` is what gorilla's dialer will say about a URL k6 accepts but cannot dial
    (user info, empty host); the socket then fails asynchronously with that error.
    """
    return list(_check_url(raw))


@functools.lru_cache(maxsize=1024)
def _check_url(raw: str) -> tuple[Any, ...]:
    """:func:`check_url`, once per URL text: scripts reconnect to the same few URLs (the
    chat benchmark: 4 sockets a VU every 5 s), and Go's parsing rules, applied a character
    at a time in Python, were ~4% of its CPU."""
    try:
        u = go_url_parse(raw)
    except URLError as exc:
        return ("err", f"WebSocket requires valid url, but got {go_quote(raw)} which resulted in "
                       f"parse {go_quote(getattr(exc, 'url', raw))}: {exc}")
    if u.scheme not in ("ws", "wss"):
        return ("err", f"WebSocket requires url with scheme ws or wss, but got {go_quote(u.scheme)}")
    if u.fragment:
        return ("err", f"WebSocket requires no url fragment, but got {go_quote(u.fragment)}")
    text = u.string()
    fail = None
    if u.user is not None:
        fail = MALFORMED
    elif not u.host:
        fail = "lookup : no such host"
    return ("ok", text, fail)


#: Compiled by the shim on first use (``wss.lazy``): params and cookies, Blob internals, UTF-8,
#: Go type names.
#: Kept here rather than in js/websockets.js because every VU compiles that module into its
#: own runtime and QuickJS keeps each function's source next to its bytecode; most scripts
#: never need these. Errors are returned as strings: the shim throws them, so no frame of
#: this (eval'd, "<input>") code shows up in a script's stack trace.
LAZY_JS = r"""(function (K, Blob) {
'use strict';
function goType(v) {
  if (v === undefined) return 'undefined';
  if (v === null) return 'null';
  switch (typeof v) {
    case 'number': return Number.isInteger(v) && !Object.is(v, -0) ? 'int64' : 'float64';
    case 'bigint': return '*big.Int';
    case 'boolean': return 'bool';
    case 'string': return 'string';
    case 'function': return 'func(sobek.FunctionCall) sobek.Value';
    case 'symbol': return '*sobek.Symbol';
    default: return Array.isArray(v) ? '[]interface {}' : 'map[string]interface {}';
  }
}
function utf8Encode(s) {
  const out = new Uint8Array(s.length * 3);
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) { out[o++] = c; continue; }
    if (c < 0x800) { out[o++] = 0xc0 | (c >> 6); out[o++] = 0x80 | (c & 63); continue; }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = i + 1 < s.length ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        const cp = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out[o++] = 0xf0 | (cp >> 18); out[o++] = 0x80 | ((cp >> 12) & 63);
        out[o++] = 0x80 | ((cp >> 6) & 63); out[o++] = 0x80 | (cp & 63);
        continue;
      }
      c = 0xfffd; // a lone surrogate becomes U+FFFD, as in Go
    }
    out[o++] = 0xe0 | (c >> 12); out[o++] = 0x80 | ((c >> 6) & 63); out[o++] = 0x80 | (c & 63);
  }
  return out.subarray(0, o);
}
function utf8Decode(u8) {
  const parts = [];
  let units = [];
  const n = u8.length;
  for (let i = 0; i < n;) {
    const b = u8[i];
    let cp = 0xfffd, len = 1;
    if (b < 0x80) cp = b;
    else if (b >= 0xc2 && b <= 0xdf && i + 1 < n && (u8[i + 1] & 0xc0) === 0x80) {
      cp = ((b & 31) << 6) | (u8[i + 1] & 63); len = 2;
    } else if (b >= 0xe0 && b <= 0xef && i + 2 < n && (u8[i + 1] & 0xc0) === 0x80 && (u8[i + 2] & 0xc0) === 0x80) {
      const v = ((b & 15) << 12) | ((u8[i + 1] & 63) << 6) | (u8[i + 2] & 63);
      if (v >= 0x800 && !(v >= 0xd800 && v <= 0xdfff)) { cp = v; len = 3; }
    } else if (b >= 0xf0 && b <= 0xf4 && i + 3 < n && (u8[i + 1] & 0xc0) === 0x80 && (u8[i + 2] & 0xc0) === 0x80 && (u8[i + 3] & 0xc0) === 0x80) {
      const v = ((b & 7) << 18) | ((u8[i + 1] & 63) << 12) | ((u8[i + 2] & 63) << 6) | (u8[i + 3] & 63);
      if (v >= 0x10000 && v <= 0x10ffff) { cp = v; len = 4; }
    }
    i += len;
    if (cp > 0xffff) { cp -= 0x10000; units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff)); }
    else units.push(cp);
    if (units.length >= 8192) { parts.push(String.fromCharCode.apply(null, units)); units = []; }
  }
  if (units.length) parts.push(String.fromCharCode.apply(null, units));
  return parts.join('');
}
function copyOf(b) { return new Uint8Array(b).slice(); }
function arrayBuffer() { return Promise.resolve(copyOf(this).buffer); }
function bytes() { return Promise.resolve(copyOf(this)); }
function text() { return Promise.resolve(utf8Decode(new Uint8Array(this))); }
function slice(start, end, contentType) {
  const size = this.byteLength;
  let s = start === undefined ? 0 : Math.trunc(Number(start)) || 0;
  let e = end === undefined ? size : Math.trunc(Number(end)) || 0;
  s = s < 0 ? Math.max(size + s, 0) : Math.min(s, size);
  e = e < 0 ? Math.max(size + e, 0) : Math.min(e, size);
  const span = Math.max(e - s, 0);
  const out = Reflect.construct(ArrayBuffer, [span], Blob);
  new Uint8Array(out).set(new Uint8Array(this, s, span));
  return init(out, contentType === undefined || contentType === null ? '' : String(contentType));
}
function stream() {
  const data = copyOf(this);
  if (typeof globalThis.ReadableStream === 'function') {
    return new globalThis.ReadableStream({ start(c) { if (data.length) c.enqueue(data); c.close(); } });
  }
  let done = data.length === 0, locked = false;
  const cancel = () => { done = true; return Promise.resolve(); };
  return {
    get locked() { return locked; },
    cancel,
    getReader() {
      if (locked) throw new TypeError('ReadableStream is locked');
      locked = true;
      return {
        read() {
          if (done) return Promise.resolve({ value: undefined, done: true });
          done = true;
          return Promise.resolve({ value: data, done: false });
        },
        releaseLock() { locked = false; },
        cancel,
        get closed() { return Promise.resolve(); },
      };
    },
  };
}
// own enumerable properties in k6's order: size, type, arrayBuffer, bytes, slice, text, stream
function init(b, type) {
  b.size = b.byteLength;
  b.type = type;
  b.arrayBuffer = arrayBuffer;
  b.bytes = bytes;
  b.slice = slice;
  b.text = text;
  b.stream = stream;
  return b;
}
function make(parts, options, newTarget) {
  const chunks = [];
  let total = 0;
  if (parts !== undefined && parts !== null) {
    const list = Object(parts);
    const n = Number(list.length) || 0;
    for (let i = 0; i < n; i++) {
      const p = list[i];
      let u8;
      if (typeof p === 'string') u8 = utf8Encode(p);
      else if (p instanceof ArrayBuffer) u8 = new Uint8Array(p); // Blobs too
      else if (ArrayBuffer.isView(p)) u8 = new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
      else return 'failed to process [blobParts]: unsupported type: ' + goType(p);
      chunks.push(u8);
      total += u8.length;
    }
  }
  let type = '';
  if (options !== undefined && options !== null) {
    if (typeof options !== 'object' && typeof options !== 'function') return '[options] must be an object';
    if (options.type !== undefined) type = String(options.type);
  }
  const b = Reflect.construct(ArrayBuffer, [total], newTarget);
  const u8 = new Uint8Array(b);
  let o = 0;
  for (const c of chunks) { u8.set(c, o); o += c.length; }
  return init(b, type);
}
function toBlob(ab) {
  Object.setPrototypeOf(ab, Blob.prototype);
  return init(ab, '');
}
// params (websockets.md §1.3): an error text, or {headers, tags, jar, compression}
function params(p) {
  const out = { headers: null, tags: null, jar: undefined, compression: null };
  const t = typeof p;
  if (p === null || (t !== 'object' && t !== 'string' && t !== 'function')) return out; // numbers: defaults
  for (const key of Object.keys(p)) {
    const v = p[key];
    if (key === 'headers') {
      if (v !== undefined && v !== null) {
        const o = Object(v);
        out.headers = {};
        for (const k of Object.keys(o)) out.headers[k] = String(o[k]);
      }
    } else if (key === 'tags') {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
        out.tags = {};
        for (const k of Object.keys(v)) {
          try { out.tags[k] = K.tagValue(k, v[k]); } catch (e) { return 'invalid WebSocket tags option: ' + e.message; }
        }
      }
    } else if (key === 'jar') {
      if (v !== null && typeof v === 'object' && typeof v.cookiesForURL === 'function') out.jar = v;
    } else if (key === 'compression') {
      const s = String(v).trim();
      if (s !== 'deflate') return "unsupported compression algorithm '" + s + "', supported algorithm is 'deflate'";
      out.compression = s;
    } else {
      return "unknown WebSocket's option " + key;
    }
  }
  return out;
}
// the Cookie header from an http.CookieJar: cookiesForURL(url) -> {name: [values]}
function cookies(jar, httpURL) {
  if (jar === undefined || jar === null || typeof jar.cookiesForURL !== 'function') return null;
  const all = jar.cookiesForURL(httpURL);
  if (all === null || typeof all !== 'object') return null;
  const parts = [];
  for (const name of Object.keys(all)) {
    const vals = all[name];
    if (Array.isArray(vals)) for (const v of vals) parts.push(name + '=' + v);
    else if (vals !== undefined && vals !== null) parts.push(name + '=' + vals);
  }
  return parts.length ? parts.join('; ') : null;
}
return { make, toBlob, goType, params, cookies };
})"""


# =========================================================================== a failed dial

class _FailedDial:
    """Stands in for a connection gorilla refuses before dialing (user info, no host)."""

    def __init__(self, url: str, tags: dict[str, str], system_tags: Any, error: str,
                 on_event: Any, on_sample: Any) -> None:
        self.state = WSState(url, tags=tags, system_tags=system_tags)
        self._error = error
        self._on_event = on_event
        self._on_sample = on_sample

    def start(self) -> None:
        now = time.time_ns()
        self.state.dial_started(now)
        for a in self.state.dial_failed(now, self._error):
            if a[0] == "event":
                self._on_event(a[1], a[2])
            elif a[0] == "sample":
                self._on_sample(a[1])

    def accept(self, kind: str, payload: dict) -> bool:
        return self.state.accept(kind, payload)[0]

    ready_state = property(lambda self: self.state.ready_state)
    buffered_amount = property(lambda self: self.state.buffered_amount)
    protocol = property(lambda self: self.state.protocol)
    extensions = property(lambda self: list(self.state.extensions))

    def take_data_counts(self) -> tuple[int, int]:
        return 0, 0

    def close(self, code: Any = None, reason: Any = "", **kw: Any) -> None:
        self.state.request_close(code, reason)

    def send_text(self, text: str) -> None:
        raise InvalidStateError()

    send_binary = send_text

    def ping(self) -> str:
        raise InvalidStateError()

    def cancel(self) -> None:
        pass

    def abort(self, code: int = 1000, **kw: Any) -> None:
        pass


# =========================================================================== per-VU manager

class _Manager:
    """All WebSockets of one VU."""

    def __init__(self, vu: "VU") -> None:
        self.vu = vu
        self.socks: dict[int, Any] = {}
        self.meta: dict[int, Any] = {}  # sid -> the metadata of its samples
        #: sockets whose send() wrote at once: their ``sent`` bookkeeping (see on_event)
        self.written: set[int] = set()
        self.pending: collections.deque = collections.deque()
        self.scheduled = False
        self.held: list[tuple[int, list]] = []
        self._idx = 0
        self.next_id = 0
        self.purge = False
        self.sink = vu.ctx.sample_sink
        self.logger = vu.logger
        self.offset_ms = time.monotonic() * 1000.0 - time.time_ns() / 1e6
        opts = vu.ctx.options or {}
        st = opts.get("systemTags")
        self.system_tags = None if st is None else list(st)
        self.user_agent = opts.get("userAgent")
        self.tls_verify = not bool(opts.get("insecureSkipTLSVerify"))
        vu.on_fail.append(self.on_fail)
        vu.on_interrupt.append(self.on_interrupt)
        vu.on_close.append(self.on_close)
        self.vu_thread = threading.get_ident()  # created by wss.open, on the VU thread
        self.lazy = False
        # flow control: message characters queued (I/O thread) and taken (VU thread), each
        # counter written by one thread only; sockets paused for the backlog
        self.chars_in = 0
        self.chars_out = 0
        self.paused: set[int] = set()
        self._paused_lock = threading.Lock()

    # ---- from the transport (any thread) -------------------------------------------
    def on_event(self, sid: int, kind: str, payload: dict) -> None:
        if kind == "message":
            data = payload.get("text")
            size = len(data) if data is not None else len(payload.get("binary_b64") or "")
            self.pending.append((sid, kind, payload, size))
            self.chars_in += size
            if ((len(self.pending) > BACKLOG_HIGH[0] or self.chars_in - self.chars_out > BACKLOG_HIGH[1])
                    and sid not in self.paused):
                conn = self.socks.get(sid)
                if conn is not None and hasattr(conn, "pause_reading"):
                    with self._paused_lock:
                        self.paused.add(sid)
                    conn.pause_reading()
        elif kind == "sent" and threading.get_ident() == self.vu_thread:
            # A send() wrote its frame at once. The bufferedAmount bookkeeping of this
            # internal event waits for the next batch (or a read of bufferedAmount) instead
            # of costing a loop turn of its own per send; deliver() does it first thing.
            self.written.add(sid)
            self.lazy = True
            return
        else:
            self.pending.append((sid, kind, payload, 0))
        if not self.scheduled:
            self.scheduled = True
            loop = current_loop()
            if loop is not None:
                loop.defer(self._wake)  # after the I/O thread's whole batch of ready sockets
            else:
                self.vu.call_soon(self.deliver)

    def _wake(self) -> None:
        self.vu.call_soon(self.deliver)

    def on_sample(self, sid: int, metadata: Any, sample: dict) -> None:
        row = [sample["name"], sample["value"], sample["tags"],
               sample["time_ns"] / 1e6 + self.offset_ms, metadata]
        if sample["name"] == "ws_msgs_received":
            # emitted by accept() on the VU thread: pushed once the shim has seen the message
            self.held.append((self._idx, row))
            return
        self.sink(self.vu, [row])

    # ---- VU thread ----------------------------------------------------------------
    def deliver(self) -> Any:
        self.scheduled = False
        self.lazy = False
        if self.held:
            self.ack(None)  # the previous batch was dispatched in full
        pending = self.pending
        socks = self.socks
        if self.written:
            written, self.written = self.written, set()
            for sid in written:
                conn = socks.get(sid)
                if conn is not None:
                    conn.accept("sent", _NO_PAYLOAD)  # bufferedAmount: the frames are out
        held = self.held
        batch: list[Any] = []
        chars = 0
        sids: set[int] = set()
        while pending:
            if len(batch) >= MAX_BATCH or chars >= MAX_BATCH_CHARS:
                if not self.scheduled:
                    self.scheduled = True
                    self.vu.call_soon(self.deliver)
                break
            sid, kind, payload, size = pending.popleft()
            conn = socks.get(sid)
            if kind == "message":
                self.chars_out += size
                chars += size
                if conn is None:
                    continue
                sids.add(sid)
                # conn.accept("message") inlined (the common case): dispatched only while
                # OPEN (readyState changes on this thread only); ws_msgs_received is held
                # until the shim has seen the message (see ack)
                state = conn.state
                if state.ready_state != _READY_OPEN:
                    continue
                time_ns = payload.get("time_ns", 0)
                held.append((len(batch), ["ws_msgs_received", 1, state.tags,
                                          time_ns / 1e6 + self.offset_ms, self.meta.get(sid)]))
                # the time crosses as integer microseconds: an int is written and parsed
                # faster than a float's shortest repr
                text = payload.get("text")
                if text is not None:
                    batch.append([sid, _TEXT, text, time_ns // 1000])
                else:
                    batch.append([sid, _BINARY, payload.get("binary_b64", ""), time_ns // 1000])
                continue
            if conn is None:
                continue
            if kind == "log":
                self.logger.log(payload.get("level", "warning"), payload.get("message", ""), {})
                continue
            if (kind == "error" or kind == "close") and sid in sids:
                # accepting it now would make the socket CLOSED before the handlers of its
                # earlier events in this batch run (send() there must still work): next batch
                pending.appendleft((sid, kind, payload, size))
                if not self.scheduled:
                    self.scheduled = True
                    self.vu.call_soon(self.deliver)
                break
            sids.add(sid)
            self._idx = len(batch)
            if not conn.accept(kind, payload):
                continue
            if kind == "open":
                batch.append([sid, _OPEN, conn.protocol, conn.extensions])
            elif kind == "error":
                batch.append([sid, _ERROR, payload.get("error", "")])
            elif kind == "close":
                del socks[sid]
                self.meta.pop(sid, None)
                self._count_data(conn)
                batch.append([sid, _CLOSE, payload.get("code"), payload.get("reason") or "",
                              conn.protocol, conn.extensions, max(0, conn.buffered_amount)])
            elif kind == "ping":
                batch.append([sid, _PING])
            elif kind == "pong":
                batch.append([sid, _PONG])
        if self.paused and len(pending) <= BACKLOG_LOW[0] and self.chars_in - self.chars_out <= BACKLOG_LOW[1]:
            self._resume_all()
        if not batch:
            self.held = []
            return None
        return [2, "wss", batch]

    def _resume_all(self) -> None:
        with self._paused_lock:
            sids, self.paused = self.paused, set()
        for sid in sids:
            conn = self.socks.get(sid)
            if conn is not None:
                conn.resume_reading()

    def ack(self, skipped: list[int] | None) -> None:
        held, self.held = self.held, []
        if not held:
            return
        if skipped:
            drop = set(skipped)
            rows = [row for idx, row in held if idx not in drop]
        else:
            rows = [row for _, row in held]
        if rows:
            self.sink(self.vu, rows)

    def _count_data(self, conn: Any) -> None:
        sent, received = conn.take_data_counts()
        vu = self.vu
        vu.data_sent += sent
        vu.data_received += received

    def open(self, spec: dict) -> list[Any]:
        self.next_id += 1
        sid = self.next_id
        purge, self.purge = self.purge, False
        metadata = spec.get("metadata")
        self.meta[sid] = metadata
        on_event = partial(self.on_event, sid)
        on_sample = partial(self.on_sample, sid, metadata)
        tags = {k: str(v) for k, v in (spec.get("tags") or {}).items()}
        fail = spec.get("fail")
        conn: Any
        if fail:
            conn = _FailedDial(spec["url"], tags, self.system_tags, fail, on_event, on_sample)
        else:
            headers: dict[str, str] = {}
            if self.user_agent:
                headers["User-Agent"] = str(self.user_agent)
            for k, v in (spec.get("headers") or {}).items():
                headers[k] = v
            conn = WebSocketConnection(
                spec["url"], protocols=spec.get("protocols"), headers=_dedupe_headers(headers),
                cookies=spec.get("cookies") or None, compression=spec.get("compression"),
                tls_verify=self.tls_verify, on_event=on_event, on_sample=on_sample, tags=tags,
                system_tags=self.system_tags, inbox=getattr(self.vu, "inbox", None))
        self.socks[sid] = conn
        conn.start()
        return [sid, purge]

    def drop(self, sid: int) -> int:
        """A handler threw (§4.5): drop the TCP connection (no Close frame), no more events."""
        conn = self.socks.pop(sid, None)
        self.meta.pop(sid, None)
        if conn is None:
            return 0
        buffered = max(0, conn.buffered_amount)
        conn.abort(send_close=False)
        self._count_data(conn)
        return buffered

    # ---- lifetime ----------------------------------------------------------------
    def on_fail(self) -> None:
        for conn in list(self.socks.values()):
            conn.cancel()

    def on_interrupt(self) -> None:
        if self.held:
            if self.vu.stopped_in_js is not None and self.vu.stopped_in_js is self.vu.phase:
                self.held = []  # its JS was stopped mid-batch: which ones it saw is unknown
            else:
                self.ack(None)  # dispatched before the interruption
        socks = list(self.socks.values())
        self.socks.clear()
        self.meta.clear()
        self.written = set()
        pending = self.pending
        while pending:  # (not clear(): every message taken is counted for the backlog)
            self.chars_out += pending.popleft()[3]
        with self._paused_lock:
            self.paused = set()
        self.held = []
        self.purge = True
        for conn in socks:
            conn.abort()

    def on_close(self) -> None:
        self.on_interrupt()
        release = getattr(self.vu.inbox, "release", None)
        if release is not None:
            release()  # the VU's eventfd (direct socket reading)


def _size(payload: dict) -> int:
    """Characters of a message event (text, or base64 of binary data)."""
    data = payload.get("text")
    if data is None:
        data = payload.get("binary_b64") or ""
    return len(data)


def _dedupe_headers(headers: dict[str, str]) -> dict[str, str]:
    """Go's ``http.Header.Set``: one value per canonical name, the last one wins."""
    out: dict[str, str] = {}
    seen: dict[str, str] = {}
    for k, v in headers.items():
        ck = canonical_header_key(k)
        if ck in seen:
            del out[seen[ck]]
        seen[ck] = k
        out[k] = v
    return out


# =========================================================================== install

def install(vu: "VU") -> None:
    engine = vu.engine
    assert engine is not None
    mgr: list[_Manager] = []

    def manager() -> _Manager:
        if not mgr:
            mgr.append(_Manager(vu))
        return mgr[0]

    def ws_url(raw: str) -> list[Any]:
        return check_url(raw)

    def ws_open(spec: dict) -> list[Any]:
        return manager().open(spec)

    def ws_send(sid: int, text: str) -> str | None:
        conn = mgr[0].socks.get(sid) if mgr else None
        if conn is None:
            return "InvalidStateError"
        try:
            conn.send_text(text)
        except InvalidStateError:
            return "InvalidStateError"
        return None

    def ws_sendb(sid: int, b64: str) -> str | None:
        conn = mgr[0].socks.get(sid) if mgr else None
        if conn is None:
            return "InvalidStateError"
        try:
            conn.send_binary(base64.b64decode(b64))
        except InvalidStateError:
            return "InvalidStateError"
        return None

    def ws_ping(sid: int) -> str | None:
        conn = mgr[0].socks.get(sid) if mgr else None
        if conn is None:
            return "InvalidStateError"
        try:
            conn.ping()
        except InvalidStateError:
            return "InvalidStateError"
        return None

    def ws_close(sid: int, code: int, reason: str) -> str | None:
        conn = mgr[0].socks.get(sid) if mgr else None
        if conn is None:
            return None
        try:
            conn.close(code, reason)
        except CloseArgumentError as exc:
            return exc.message
        return None

    def ws_buffered(sid: int) -> int:
        if not mgr:
            return 0
        m = mgr[0]
        if m.lazy and not m.scheduled:
            # frames written by earlier send()s: account them before the next callback
            m.scheduled = True
            vu.call_soon(m.deliver)
        conn = m.socks.get(sid)
        return 0 if conn is None else max(0, conn.buffered_amount)

    def ws_drop(sid: int) -> int:
        return mgr[0].drop(sid) if mgr else 0

    def ws_ack(skipped: list[int] | None) -> None:
        if mgr:
            mgr[0].ack(skipped)

    engine.export("wss.url", ws_url)
    engine.export("wss.open", ws_open)
    engine.export("wss.send", ws_send)
    engine.export("wss.sendb", ws_sendb)
    engine.export("wss.ping", ws_ping)
    engine.export("wss.close", ws_close)
    engine.export("wss.buf", ws_buffered)
    engine.export("wss.drop", ws_drop)
    engine.export("wss.ack", ws_ack)
    engine.export("wss.lazy", lambda: LAZY_JS)
