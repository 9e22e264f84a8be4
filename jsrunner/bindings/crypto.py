"""Host side of ``k6/crypto``: digests, HMAC, random bytes and hex for strings.

Hashing runs in Python (``hashlib``: C speed, a few µs per call). A Hasher's data stays
in JS until ``digest()``, which sends every chunk in one call: nothing per-Hasher lives
in Python, so scripts that create a Hasher per iteration and drop it leak nothing.

OpenSSL 3 builds of ``hashlib`` often lack MD4 and RIPEMD-160 (legacy provider), so
both have a small pure-Python implementation here (:class:`MD4`, :class:`RIPEMD160`),
used only when ``hashlib`` refuses the name. Arguments and binary results cross as
described in :mod:`jsrunner.bindings.encoding` (tagged strings, latin-1 for bytes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .encoding import arg_bytes, go_utf8, to_latin1

if TYPE_CHECKING:
    from ..vu import VU


def _rol(x: int, n: int) -> int:
    x &= 0xFFFFFFFF
    return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF


class _MDHash:
    """Buffering and Merkle–Damgård padding shared by MD4 and RIPEMD-160 (little-endian)."""

    name = ""
    digest_size = 16
    block_size = 64
    _init: tuple[int, ...] = ()

    def __init__(self, data: bytes = b"") -> None:
        self._h = list(self._init)
        self._buf = b""
        self._len = 0
        if data:
            self.update(data)

    def update(self, data: bytes) -> None:
        data = bytes(data)
        self._len += len(data)
        buf = self._buf + data
        end = len(buf) - len(buf) % 64
        for i in range(0, end, 64):
            self._compress(buf[i:i + 64])
        self._buf = buf[end:]

    def copy(self) -> "_MDHash":
        other = type(self).__new__(type(self))
        other._h = list(self._h)
        other._buf = self._buf
        other._len = self._len
        return other

    def digest(self) -> bytes:
        tail = self.copy()
        bits = (self._len * 8) & 0xFFFFFFFFFFFFFFFF
        pad = b"\x80" + b"\x00" * ((55 - self._len) % 64) + struct.pack("<Q", bits)
        tail.update(pad)
        return struct.pack("<%dI" % len(tail._h), *tail._h)

    def hexdigest(self) -> str:
        return self.digest().hex()

    def _compress(self, block: bytes) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


class MD4(_MDHash):
    """MD4 (RFC 1320)."""

    name = "md4"
    digest_size = 16
    _init = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476)

    def _compress(self, block: bytes) -> None:
        x = struct.unpack("<16I", block)
        a, b, c, d = self._h

        def f(x_: int, y: int, z: int) -> int:
            return (x_ & y) | (~x_ & z)

        def g(x_: int, y: int, z: int) -> int:
            return (x_ & y) | (x_ & z) | (y & z)

        for k in range(0, 16, 4):  # round 1
            a = _rol(a + f(b, c, d) + x[k], 3)
            d = _rol(d + f(a, b, c) + x[k + 1], 7)
            c = _rol(c + f(d, a, b) + x[k + 2], 11)
            b = _rol(b + f(c, d, a) + x[k + 3], 19)
        for k in range(4):  # round 2
            a = _rol(a + g(b, c, d) + x[k] + 0x5A827999, 3)
            d = _rol(d + g(a, b, c) + x[k + 4] + 0x5A827999, 5)
            c = _rol(c + g(d, a, b) + x[k + 8] + 0x5A827999, 9)
            b = _rol(b + g(c, d, a) + x[k + 12] + 0x5A827999, 13)
        for k in (0, 2, 1, 3):  # round 3
            a = _rol(a + (b ^ c ^ d) + x[k] + 0x6ED9EBA1, 3)
            d = _rol(d + (a ^ b ^ c) + x[k + 8] + 0x6ED9EBA1, 9)
            c = _rol(c + (d ^ a ^ b) + x[k + 4] + 0x6ED9EBA1, 11)
            b = _rol(b + (c ^ d ^ a) + x[k + 12] + 0x6ED9EBA1, 15)
        h = self._h
        self._h = [(h[0] + a) & 0xFFFFFFFF, (h[1] + b) & 0xFFFFFFFF,
                   (h[2] + c) & 0xFFFFFFFF, (h[3] + d) & 0xFFFFFFFF]


# RIPEMD-160 tables: message word order, rotation amounts and constants of both lines.
_R_LEFT = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
    7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8,
    3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12,
    1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2,
    4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13,
]
_R_RIGHT = [
    5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12,
    6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2,
    15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13,
    8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14,
    12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11,
]
_S_LEFT = [
    11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8,
    7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12,
    11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5,
    11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12,
    9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6,
]
_S_RIGHT = [
    8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6,
    9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11,
    9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5,
    15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8,
    8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11,
]
_K_LEFT = (0x00000000, 0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xA953FD4E)
_K_RIGHT = (0x50A28BE6, 0x5C4DD124, 0x6D703EF3, 0x7A6D76E9, 0x00000000)


def _rmd_f(j: int, x: int, y: int, z: int) -> int:
    if j < 16:
        return x ^ y ^ z
    if j < 32:
        return (x & y) | (~x & z)
    if j < 48:
        return (x | ~y) ^ z
    if j < 64:
        return (x & z) | (y & ~z)
    return x ^ (y | ~z)


class RIPEMD160(_MDHash):
    """RIPEMD-160 (Dobbertin, Bosselaers, Preneel, 1996)."""

    name = "ripemd160"
    digest_size = 20
    _init = (0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0)

    def _compress(self, block: bytes) -> None:
        x = struct.unpack("<16I", block)
        h0, h1, h2, h3, h4 = self._h
        al, bl, cl, dl, el = h0, h1, h2, h3, h4
        ar, br, cr, dr, er = h0, h1, h2, h3, h4
        for j in range(80):
            rnd = j >> 4
            t = (_rol(al + _rmd_f(j, bl, cl, dl) + x[_R_LEFT[j]] + _K_LEFT[rnd], _S_LEFT[j]) + el) & 0xFFFFFFFF
            al, el, dl, cl, bl = el, dl, _rol(cl, 10), bl, t
            t = (_rol(ar + _rmd_f(79 - j, br, cr, dr) + x[_R_RIGHT[j]] + _K_RIGHT[rnd], _S_RIGHT[j]) + er) & 0xFFFFFFFF
            ar, er, dr, cr, br = er, dr, _rol(cr, 10), br, t
        t = (h1 + cl + dr) & 0xFFFFFFFF
        self._h = [t, (h2 + dl + er) & 0xFFFFFFFF, (h3 + el + ar) & 0xFFFFFFFF,
                   (h4 + al + br) & 0xFFFFFFFF, (h0 + bl + cr) & 0xFFFFFFFF]


_FALLBACK: dict[str, type[_MDHash]] = {"md4": MD4, "ripemd160": RIPEMD160}

#: k6's algorithm names -> hashlib names
ALGORITHMS = {
    "md4": "md4", "md5": "md5", "sha1": "sha1", "sha256": "sha256", "sha384": "sha384",
    "sha512": "sha512", "sha512_224": "sha512_224", "sha512_256": "sha512_256", "ripemd160": "ripemd160",
}


def constructor(alg: str) -> Callable[..., Any]:
    """A hashlib-style constructor (``cons(data=b"")``) for a k6 algorithm name."""
    name = ALGORITHMS[alg]
    try:
        hashlib.new(name)
    except ValueError:
        return _FALLBACK[name]

    def cons(data: bytes = b"") -> Any:
        return hashlib.new(name, data)

    return cons


_CONSTRUCTORS: dict[str, Callable[..., Any]] = {}


def new_hash(alg: str, key: bytes | None = None) -> Any:
    cons = _CONSTRUCTORS.get(alg)
    if cons is None:
        cons = _CONSTRUCTORS[alg] = constructor(alg)
    if key is None:
        return cons()
    return hmac.new(key, digestmod=cons)


def encode_digest(raw: bytes, encoding: str) -> str:
    if encoding == "hex":
        return raw.hex()
    if encoding == "base64":
        return base64.b64encode(raw).decode("ascii")
    if encoding == "base64url":
        return base64.urlsafe_b64encode(raw).decode("ascii")
    if encoding == "base64rawurl":
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
    if encoding == "binary":
        return to_latin1(raw)
    raise ValueError(f"invalid output encoding: {encoding}")


# ---- host functions -----------------------------------------------------------------------
def host_digest(alg: str, key: list[str] | None, chunks: list[list[str]], encoding: str) -> str:
    h = new_hash(alg, None if key is None else arg_bytes(key))
    for chunk in chunks:
        h.update(arg_bytes(chunk))
    return encode_digest(h.digest(), encoding)


def host_random_bytes(size: int) -> str:
    return to_latin1(os.urandom(int(size)))


def host_hex(text: str) -> str:
    return go_utf8(text).hex()


def install(vu: "VU") -> None:
    engine = vu.engine
    assert engine is not None
    engine.export("crypto.digest", host_digest)
    engine.export("crypto.randomBytes", host_random_bytes)
    engine.export("crypto.hex", host_hex)
