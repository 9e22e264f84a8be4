"""Framing and permessage-deflate units, plus a raw-socket server for wire-level cases."""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
import threading
import zlib

import pytest

from jsrunner.transport.deflate import (INVALID_NEGOTIATION, NegotiationError,
                                        PerMessageDeflate, parse_extensions)
from jsrunner.transport.frames import (OP_BINARY, OP_CLOSE, OP_ERROR, OP_PING, OP_PONG, OP_TEXT,
                                       FrameParser, close_payload, encode_frame)


def server_frame(opcode, payload, fin=True, rsv1=False, mask=False):
    b1 = (0x80 if fin else 0) | (0x40 if rsv1 else 0) | opcode
    n = len(payload)
    m = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b1, m | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b1, m | 126, n)
    else:
        hdr = struct.pack("!BBQ", b1, m | 127, n)
    return hdr + (b"\0\0\0\0" if mask else b"") + payload


def test_parser_byte_by_byte_and_lengths():
    p = FrameParser()
    data = (server_frame(OP_TEXT, b"hi") + server_frame(OP_BINARY, b"x" * 300)
            + server_frame(OP_BINARY, b"y" * 70_000))
    out = []
    for i in range(len(data)):
        out += p.feed(data[i:i + 1])
    assert out == [(OP_TEXT, b"hi", False), (OP_BINARY, b"x" * 300, False),
                   (OP_BINARY, b"y" * 70_000, False)]


def test_parser_reassembles_fragments_with_interleaved_control():
    p = FrameParser()
    data = (server_frame(OP_TEXT, b"he", fin=False) + server_frame(OP_PING, b"1")
            + server_frame(0, b"ll", fin=False) + server_frame(0, b"o"))
    assert p.feed(data) == [(OP_PING, b"1", False), (OP_TEXT, b"hello", False)]


@pytest.mark.parametrize("frame,msg", [
    (server_frame(OP_TEXT, b"a", rsv1=True), "RSV1 set"),
    (server_frame(OP_TEXT, b"a", mask=True), "bad MASK"),
    (server_frame(OP_PING, b"a", fin=False), "control frame not final"),
    (server_frame(0, b"a"), "continuation after final message frame"),
    (server_frame(0x3, b"a"), "unknown opcode 3"),
])
def test_parser_protocol_errors_keep_earlier_frames(frame, msg):
    p = FrameParser()
    out = p.feed(server_frame(OP_TEXT, b"ok") + frame + server_frame(OP_TEXT, b"never"))
    assert out == [(OP_TEXT, b"ok", False), (OP_ERROR, msg.encode(), False)]
    assert p.feed(server_frame(OP_TEXT, b"x")) == []


def test_parser_fast_and_general_paths_agree_on_any_chunking():
    import random
    rnd = random.Random(7)
    frames, expected = [], []
    for _ in range(300):
        kind = rnd.choice(["text", "bin", "medium", "big", "ping", "frag"])
        if kind == "text":
            body = b"t" * rnd.randint(0, 125)
            frames.append(server_frame(OP_TEXT, body)); expected.append((OP_TEXT, body, False))
        elif kind == "bin":
            body = bytes([rnd.randint(0, 255)]) * rnd.randint(0, 125)
            frames.append(server_frame(OP_BINARY, body)); expected.append((OP_BINARY, body, False))
        elif kind == "medium":
            body = b"m" * rnd.randint(126, 3000)
            frames.append(server_frame(OP_TEXT, body)); expected.append((OP_TEXT, body, False))
        elif kind == "big":
            body = b"b" * 70_000
            frames.append(server_frame(OP_BINARY, body)); expected.append((OP_BINARY, body, False))
        elif kind == "ping":
            frames.append(server_frame(OP_PING, b"p")); expected.append((OP_PING, b"p", False))
        else:
            frames += [server_frame(OP_TEXT, b"ab", fin=False), server_frame(0, b"cd")]
            expected.append((OP_TEXT, b"abcd", False))
    data = b"".join(frames)
    for trial in range(20):
        p = FrameParser(max_size=1 << 20)
        out, pos = [], 0
        while pos < len(data):
            step = rnd.choice([1, 7, 100, 4096, 65536, len(data)])
            out += p.feed(data[pos:pos + step])
            pos += step
        assert out == expected


def test_parser_fast_path_respects_the_size_limit():
    p = FrameParser(max_size=10)
    out = p.feed(server_frame(OP_TEXT, b"ok") + server_frame(OP_TEXT, b"x" * 11))
    assert out == [(OP_TEXT, b"ok", False), (OP_ERROR, b"read limit exceeded", False)]


def test_parser_rsv1_allowed_with_deflate():
    p = FrameParser(allow_rsv1=True)
    assert p.feed(server_frame(OP_TEXT, b"z", rsv1=True)) == [(OP_TEXT, b"z", True)]


def test_encode_frame_is_masked_client_frame():
    f = encode_frame(OP_TEXT, b"hello", rsv1=True)
    assert f[0] == 0x80 | 0x40 | OP_TEXT and f[1] == 0x80 | 5
    key = f[2:6]
    assert bytes(b ^ key[i % 4] for i, b in enumerate(f[6:])) == b"hello"
    assert close_payload(1000, "bye") == b"\x03\xe8bye" and close_payload(None) == b""


def test_deflate_round_trip_and_tail():
    codec = PerMessageDeflate()
    for data in (b"", b"a", b"abc" * 10_000, bytes(range(256))):
        c = codec.compress(data)
        assert not c.endswith(b"\x00\x00\xff\xff")
        assert PerMessageDeflate.decompress(c) == data
        # what any RFC 7692 peer does
        assert zlib.decompressobj(-15).decompress(c + b"\x00\x00\xff\xff") == data


def test_negotiation():
    resp = ["permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=12"]
    assert isinstance(PerMessageDeflate.from_response(resp, True), PerMessageDeflate)
    assert PerMessageDeflate.from_response([], True) is None
    assert PerMessageDeflate.from_response(["x-other"], True) is None
    with pytest.raises(NegotiationError, match=INVALID_NEGOTIATION):
        PerMessageDeflate.from_response(["permessage-deflate"], True)
    with pytest.raises(NegotiationError):
        PerMessageDeflate.from_response(resp, False)
    c = PerMessageDeflate.from_response([resp[0] + "; client_max_window_bits=10"], True)
    assert c.client_wbits == 10
    assert parse_extensions(['a; b="1", c']) == [("a", {"b": "1"}), ("c", {})]


# ---------------------------------------------------------------- raw wire-level server
class RawServer:
    """Answers one WebSocket handshake by hand, then runs ``script(sock)``."""

    def __init__(self, script, *, response=None):
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(4)
        self.port = self.ls.getsockname()[1]
        self.received = b""
        self.t = threading.Thread(target=self._run, args=(script, response), daemon=True)
        self.t.start()

    def _run(self, script, response):
        c, _ = self.ls.accept()
        c.settimeout(5)
        req = b""
        while b"\r\n\r\n" not in req:
            req += c.recv(4096)
        key = [ln.split(b":", 1)[1].strip() for ln in req.split(b"\r\n")
               if ln.lower().startswith(b"sec-websocket-key:")][0]
        accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
        if response is None:
            response = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        try:
            script(c, response)
            c.settimeout(2)
            while True:
                d = c.recv(4096)
                if not d:
                    break
                self.received += d
        except OSError:
            pass
        finally:
            c.close()
            self.ls.close()


def client_frames(data):
    """Decode masked client frames."""
    out = []
    while data:
        op, n = data[0] & 0x0F, data[1] & 0x7F
        pos = 2
        if n == 126:
            n, pos = struct.unpack("!H", data[2:4])[0], 4
        elif n == 127:
            n, pos = struct.unpack("!Q", data[2:10])[0], 10
        key = data[pos:pos + 4]
        out.append((op, bytes(b ^ key[i % 4] for i, b in enumerate(data[pos + 4:pos + 4 + n]))))
        data = data[pos + 4 + n:]
    return out


def is_kind(kind):
    return lambda k, p: k == kind


def test_protocol_error_closes_1002_without_error_event(connect):
    srv = RawServer(lambda c, r: c.sendall(r + server_frame(OP_TEXT, b"hi")
                                           + server_frame(OP_TEXT, b"x", rsv1=True)))
    conn, rec = connect(f"ws://127.0.0.1:{srv.port}/")
    rec.pump()
    assert rec.kinds() == ["open", "message", "close"]  # frames in the same packet as the 101
    srv.t.join(5)
    assert client_frames(srv.received) == [(OP_CLOSE, b"\x03\xeaRSV1 set")]


def test_fragmented_message_and_unknown_pong(connect):
    def script(c, r):
        c.sendall(r + server_frame(OP_TEXT, b"he", fin=False) + server_frame(OP_PING, b"p")
                  + server_frame(0, b"llo") + server_frame(OP_PONG, b"77")
                  + server_frame(OP_CLOSE, b""))
    srv = RawServer(script)
    conn, rec = connect(f"ws://127.0.0.1:{srv.port}/")
    rec.pump()
    assert rec.kinds() == ["open", "ping", "message", "pong", "error", "close"]
    assert rec.events[2][1]["text"] == "hello"
    assert rec.logs == [{"level": "warning", "message": "received pong for unknown ping ID 77"}]
    assert rec.events[4][1]["error"] == "websocket: close 1005 (no status)"
    assert rec.events[5][1] == {"code": 1005, "reason": ""}
    srv.t.join(5)
    # the Ping was answered, the Close echoed with an empty payload (code 1005 is never sent)
    assert client_frames(srv.received) == [(OP_PONG, b"p"), (OP_CLOSE, b"")]


def test_bad_accept_key_is_bad_handshake(connect):
    resp = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n")
    srv = RawServer(lambda c, r: c.sendall(r), response=resp)
    conn, rec = connect(f"ws://127.0.0.1:{srv.port}/")
    rec.pump()
    assert rec.events[0][1]["error"] == "websocket: bad handshake"
    assert rec.events[0][1]["status"] == 101


def test_eof_during_handshake(connect):
    srv = RawServer(lambda c, r: c.shutdown(socket.SHUT_WR))
    conn, rec = connect(f"ws://127.0.0.1:{srv.port}/")
    rec.pump()
    assert rec.events[0][1]["error"] == "EOF"


def test_chunked_error_body(connect):
    resp = (b"HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
    srv = RawServer(lambda c, r: c.sendall(r), response=resp)
    conn, rec = connect(f"ws://127.0.0.1:{srv.port}/")
    rec.pump()
    assert rec.events[0][1]["body"] == "hello world" and rec.events[0][1]["status"] == 500
