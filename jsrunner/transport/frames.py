"""WebSocket framing: client frames (masking, RSV1 for permessage-deflate) are built here;
server frames are parsed by an incremental, non-blocking parser (websocket-client's ``frame_buffer`` blocks on the socket and rejects
RSV1, so it cannot serve a selector loop nor compression)."""

from __future__ import annotations

import os
import struct

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
OP_ERROR = -1  # pseudo opcode: protocol violation (payload = message)
#: the OP_ERROR text of a message over ``max_size`` (gorilla's ErrReadLimit, close 1009)
READ_LIMIT_ERROR = "read limit exceeded"
_DATA_OPS = (OP_TEXT, OP_BINARY)
_CONTROL_OPS = (OP_CLOSE, OP_PING, OP_PONG)


class ProtocolError(Exception):
    """A frame the peer must not send; the text mirrors gorilla's (without the prefix)."""


class _MaskPool:
    """Masking keys cut from one ``os.urandom`` call per 1,024 frames (a ``getrandom``
    system call per frame cost as much as the rest of encoding a small one).

    No lock: 1,000 VU threads sending on the same timer tick made a lock here a GIL
    convoy (milliseconds of waiting per frame). Two threads racing may reuse a key, which
    masking tolerates; every slice is 4 bytes since each buffer is 4,096 long.
    """

    __slots__ = ("_buf", "_pos")

    def __init__(self) -> None:
        self._buf = os.urandom(4096)
        self._pos = 0

    def take(self) -> bytes:
        buf = self._buf
        pos = self._pos
        if pos > 4092:
            buf = self._buf = os.urandom(4096)
            pos = 0
        self._pos = pos + 4
        return buf[pos:pos + 4]


_masks = _MaskPool()


def encode_frame(opcode: int, payload: bytes, rsv1: bool = False, *, _pack=struct.pack,
                 _mask=_masks.take, _from_bytes=int.from_bytes) -> bytes:
    """A complete, masked client frame (FIN set).

    Same bytes as websocket-client's ``ABNF(...).format()`` (random 4-byte mask, payload
    XORed as one big integer) without building an ABNF object: ~3.5x faster for the small
    frames of a send loop, which matters on the JS thread.
    """
    n = len(payload)
    b1 = (0xC0 if rsv1 else 0x80) | opcode
    if n < 126:
        head = _pack("!BB", b1, 0x80 | n)
    elif n < 65536:
        head = _pack("!BBH", b1, 0xFE, n)
    else:
        head = _pack("!BBQ", b1, 0xFF, n)
    mask = _mask()
    if not n:
        return head + mask
    key = _from_bytes(mask * (n // 4) + mask[: n % 4], "little")
    return head + mask + (_from_bytes(payload, "little") ^ key).to_bytes(n, "little")


def _unmask(mask: bytes, data: bytes) -> bytes:
    n = len(data)
    if not n:
        return data
    key = int.from_bytes(mask * (n // 4) + mask[: n % 4], "little")
    return (int.from_bytes(data, "little") ^ key).to_bytes(n, "little")


def close_payload(code: int | None, reason: str = "") -> bytes:
    if code is None or code == 1005:
        return b""
    return struct.pack("!H", code) + reason.encode("utf-8")


class FrameParser:
    """Feed bytes, get complete messages and control frames.

    :meth:`feed` returns a list of ``(opcode, payload, compressed)`` where opcode is
    TEXT/BINARY for whole (reassembled) messages, or CLOSE/PING/PONG.  A protocol
    violation ends the list with ``(OP_ERROR, message_bytes, False)``; the frames before
    it are still returned, and the parser accepts nothing more.
    """

    def __init__(self, allow_rsv1: bool = False, max_size: int = 0) -> None:
        self.allow_rsv1 = allow_rsv1
        #: largest message accepted (0 = any): checked on each frame header, before its
        #: payload is buffered, so a peer announcing a huge frame costs no memory
        self.max_size = max_size
        self._msg_size = 0
        self._buf = bytearray()
        self._msg_op: int | None = None
        self._msg_parts: list[bytes] = []
        self._msg_rsv1 = False
        self.error: str | None = None

    def feed(self, data: bytes) -> list[tuple[int, bytes, bool]]:
        if self.error is not None:
            return []
        out: list[tuple[int, bytes, bool]] = []
        if not self._buf and self._msg_op is None:
            # fast path (what a VU reads almost always): whole, final, uncompressed text or
            # binary frames up to 64 KiB, sliced straight out of ``data``
            pos, n, limit = 0, len(data), self.max_size
            while n - pos >= 2:
                b1 = data[pos]
                if b1 != 0x81 and b1 != 0x82:
                    break
                length = data[pos + 1]
                hdr = 2
                if length == 126:
                    if n - pos < 4:
                        break
                    length = (data[pos + 2] << 8) | data[pos + 3]
                    hdr = 4
                elif length > 126:  # masked (invalid) or 64-bit length: the general path
                    break
                end = pos + hdr + length
                if end > n or (limit and length > limit):
                    break
                out.append((b1 & 0x0F, data[pos + hdr:end], False))
                pos = end
            if pos == n:
                return out
            if pos:
                data = data[pos:]
        try:
            self._feed(data, out)
        except ProtocolError as e:
            self.error = str(e)
            self._buf = bytearray()
            out.append((OP_ERROR, self.error.encode(), False))
        return out

    def _feed(self, data: bytes, out: list) -> None:
        buf = self._buf
        buf += data
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            b1 = buf[pos]
            b2 = buf[pos + 1]
            length = b2 & 0x7F
            hdr = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = (buf[pos + 2] << 8) | buf[pos + 3]
                hdr = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = struct.unpack_from("!Q", buf, pos + 2)[0]
                hdr = 10
            masked = b2 & 0x80
            if masked:
                hdr += 4
            if self.max_size and (b1 & 0x0F) not in _CONTROL_OPS:
                total = length + (self._msg_size if (b1 & 0x0F) == OP_CONT else 0)
                if total > self.max_size:
                    raise ProtocolError(READ_LIMIT_ERROR)
            if n - pos < hdr + length:
                break
            fin = b1 & 0x80
            rsv1 = bool(b1 & 0x40)
            opcode = b1 & 0x0F
            payload = bytes(buf[pos + hdr: pos + hdr + length])
            if masked:
                payload = _unmask(bytes(buf[pos + hdr - 4: pos + hdr]), payload)
            pos += hdr + length
            if b1 & 0x30:
                raise ProtocolError("RSV2 set, RSV3 set")
            if rsv1 and (not self.allow_rsv1 or opcode not in _DATA_OPS):
                raise ProtocolError("RSV1 set")
            if masked:
                raise ProtocolError("bad MASK")
            if opcode in _CONTROL_OPS:
                if not fin or length > 125:
                    raise ProtocolError("control frame length > 125" if fin else "control frame not final")
                out.append((opcode, payload, False))
                continue
            if opcode in _DATA_OPS:
                if self._msg_op is not None:
                    raise ProtocolError("message start before final message frame")
                if fin:
                    out.append((opcode, payload, rsv1))
                    continue
                self._msg_op, self._msg_parts, self._msg_rsv1 = opcode, [payload], rsv1
                self._msg_size = len(payload)
                continue
            if opcode == OP_CONT:
                if self._msg_op is None:
                    raise ProtocolError("continuation after final message frame")
                if rsv1:
                    raise ProtocolError("RSV1 set")
                self._msg_parts.append(payload)
                self._msg_size += len(payload)
                if fin:
                    out.append((self._msg_op, b"".join(self._msg_parts), self._msg_rsv1))
                    self._msg_op, self._msg_parts, self._msg_rsv1 = None, [], False
                continue
            raise ProtocolError(f"unknown opcode {opcode}")
        if pos:
            del buf[:pos]
