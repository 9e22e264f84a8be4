"""The frame parser refuses messages over its limit before buffering them."""

from __future__ import annotations

import struct

from jsrunner.transport.frames import OP_BINARY, OP_ERROR, OP_TEXT, READ_LIMIT_ERROR, FrameParser


def _frame(op: int, payload: bytes, fin: bool = True) -> bytes:
    n = len(payload)
    b1 = (0x80 if fin else 0) | op
    if n < 126:
        return bytes([b1, n]) + payload
    if n < 65536:
        return bytes([b1, 126]) + struct.pack("!H", n) + payload
    return bytes([b1, 127]) + struct.pack("!Q", n) + payload


def test_a_frame_announcing_more_than_the_limit_fails_on_its_header():
    p = FrameParser(max_size=1000)
    out = p.feed(bytes([0x82, 127]) + struct.pack("!Q", 1 << 40))  # header only, no payload
    assert out == [(OP_ERROR, READ_LIMIT_ERROR.encode(), False)]


def test_fragments_adding_up_to_more_than_the_limit():
    p = FrameParser(max_size=1000)
    out = p.feed(_frame(OP_TEXT, b"a" * 600, fin=False))
    assert out == []
    out = p.feed(_frame(0x0, b"b" * 600))
    assert out == [(OP_ERROR, READ_LIMIT_ERROR.encode(), False)]


def test_messages_up_to_the_limit_pass_and_control_frames_are_not_counted():
    p = FrameParser(max_size=1000)
    out = p.feed(_frame(OP_BINARY, b"x" * 1000) + _frame(0x9, b"p") + _frame(OP_TEXT, b"y" * 500, fin=False)
                 + _frame(0x0, b"z" * 500))
    assert [(op, len(data)) for op, data, _ in out] == [(OP_BINARY, 1000), (0x9, 1), (OP_TEXT, 1000)]
