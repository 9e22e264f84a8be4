"""Host side of ``k6/encoding`` (runtime.md §10) and the byte helpers other bindings share.

k6 implements ``b64encode``/``b64decode`` with Go's ``encoding/base64``; scripts see its
behaviour directly (which inputs are accepted, the exact ``illegal base64 data at input
byte N`` offsets), so the decoder here reproduces Go's rules rather than Python's.
Base64 work happens in Python because QuickJS string building is slow for large inputs.

How values cross between JS and Python (dukpy moves JSON only):

- a JS **string** crosses as itself; Python turns it into bytes the way Go converts a JS
  string: UTF-8, with every lone surrogate becoming U+FFFD (:func:`go_utf8`);
- **binary** data crosses as a *latin-1 string* (one char per byte, U+0000..U+00FF):
  the JS side builds it with ``String.fromCharCode`` on chunks and reads it back with
  ``charCodeAt``, both native loops, which is several times faster than base64 in JS.
  The shims tag each byte argument as ``["s", text]`` or ``["b", latin1]``.
"""

from __future__ import annotations

import binascii
import codecs
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..vu import VU


# ---- strings <-> bytes, the Go way ------------------------------------------------------
def _surrogates_to_fffd(exc: UnicodeError) -> tuple[bytes, int]:
    # (the UTF-8 encoder accepts only ASCII text from a handler, so hand it the bytes)
    if isinstance(exc, UnicodeEncodeError):
        return b"\xef\xbf\xbd" * (exc.end - exc.start), exc.end
    raise exc


def _one_fffd_per_byte(exc: UnicodeError) -> tuple[str, int]:
    # Go's utf8.DecodeRune consumes exactly one byte of an invalid sequence, so a
    # truncated 3-byte sequence gives two U+FFFD, not one as Python's "replace" does.
    if isinstance(exc, UnicodeDecodeError):
        return "\ufffd", exc.start + 1
    raise exc


codecs.register_error("jsrunner.go_encode", _surrogates_to_fffd)
codecs.register_error("jsrunner.go_decode", _one_fffd_per_byte)


def go_utf8(text: str) -> bytes:
    """Bytes of a JS string as Go sees them (lone surrogates become U+FFFD)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "jsrunner.go_encode")


def go_string(data: bytes) -> str:
    """A Go ``string(bytes)`` handed to JS: each invalid UTF-8 byte becomes U+FFFD."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("utf-8", "jsrunner.go_decode")


def arg_bytes(arg: Any) -> bytes:
    """Bytes of a tagged argument from a shim: ``["s", text]`` or ``["b", latin1]``."""
    kind, payload = arg[0], arg[1]
    if kind == "b":
        return payload.encode("latin-1")
    return go_utf8(payload)


def to_latin1(data: bytes) -> str:
    return data.decode("latin-1")


# ---- Go's base64 ------------------------------------------------------------------------
_STD = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
_STD_TO_URL = bytes.maketrans(b"+/", b"-_")


def _decode_map(alphabet: bytes) -> list[int]:
    table = [-1] * 256
    for i, c in enumerate(alphabet):
        table[c] = i
    return table


_MAPS = {False: _decode_map(_STD), True: _decode_map(_URL)}
# Valid input once CR/LF are removed (Go skips them anywhere): used to take the fast path.
_PADDED_RE = {
    False: re.compile(rb"[A-Za-z0-9+/]*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"),
    True: re.compile(rb"[A-Za-z0-9_-]*(?:[A-Za-z0-9_-]{2}==|[A-Za-z0-9_-]{3}=)?"),
}
_RAW_RE = {False: re.compile(rb"[A-Za-z0-9+/]*"), True: re.compile(rb"[A-Za-z0-9_-]*")}

#: variant name -> (url alphabet, padded); anything else is "std", like k6
VARIANTS = {"std": (False, True), "rawstd": (False, False), "url": (True, True), "rawurl": (True, False)}


class CorruptInputError(ValueError):
    """Go's ``base64.CorruptInputError``: the offset of the first bad input byte."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"illegal base64 data at input byte {offset}")
        self.offset = offset


def b64encode(data: bytes, url: bool = False, padded: bool = True) -> str:
    out = binascii.b2a_base64(data, newline=False)
    if url:
        out = out.translate(_STD_TO_URL)
    if not padded:
        out = out.rstrip(b"=")
    return out.decode("ascii")


def b64decode(src: bytes, url: bool = False, padded: bool = True) -> bytes:
    """Decode like Go's ``Encoding.DecodeString`` (non-strict); raise :class:`CorruptInputError`."""
    clean = src.translate(None, b"\r\n") if (b"\n" in src or b"\r" in src) else src
    if padded:
        ok = len(clean) % 4 == 0 and _PADDED_RE[url].fullmatch(clean) is not None
    else:
        ok = len(clean) % 4 != 1 and _RAW_RE[url].fullmatch(clean) is not None
    if ok:
        if url:
            clean = clean.translate(_URL_TO_STD)
        if not padded:
            clean += b"=" * (-len(clean) % 4)
        return binascii.a2b_base64(clean)
    return _decode_exact(src, _MAPS[url], padded)


def _decode_exact(src: bytes, table: list[int], padded: bool) -> bytes:
    """Go's quantum-by-quantum decoder, for input the fast path rejected.

    Reads four alphabet characters at a time, skipping CR and LF. Error offsets:
    a non-alphabet byte -> its own offset; input ending after one character of a
    quantum, or ending early when padding is required -> the offset of the quantum's
    first character (counting skipped newlines as Go does: ``si - j``); ``=`` as the
    first or second character of a quantum -> its offset; a single ``=`` where ``==``
    is needed -> the end of input, or the offset of the first ``=`` if something else
    follows; anything but newlines after the padding -> the offset of that byte.
    """
    out = bytearray()
    n = len(src)
    si = 0
    while si < n:
        vals = [0, 0, 0, 0]
        j = 0
        dlen = 4
        trailing: CorruptInputError | None = None
        while j < 4:
            if si == n:
                if j == 0:
                    return bytes(out)
                if j == 1 or padded:
                    raise CorruptInputError(si - j)
                dlen = j
                break
            c = src[si]
            si += 1
            v = table[c]
            if v >= 0:
                vals[j] = v
                j += 1
                continue
            if c == 10 or c == 13:
                continue
            if not padded or c != 61:  # 61 == "="
                raise CorruptInputError(si - 1)
            if j < 2:
                raise CorruptInputError(si - 1)
            if j == 2:  # a second "=" must follow (newlines may sit between)
                while si < n and src[si] in (10, 13):
                    si += 1
                if si == n:
                    raise CorruptInputError(n)
                if src[si] != 61:
                    raise CorruptInputError(si - 1)
                si += 1
            while si < n and src[si] in (10, 13):
                si += 1
            if si < n:
                trailing = CorruptInputError(si)
            dlen = j
            break
        word = (vals[0] << 18) | (vals[1] << 12) | (vals[2] << 6) | vals[3]
        out += word.to_bytes(3, "big")[: dlen - 1]
        if trailing is not None:
            raise trailing
    return bytes(out)


# ---- host functions -----------------------------------------------------------------------
def host_b64encode(arg: list[Any], variant: str) -> str:
    url, padded = VARIANTS.get(variant, (False, True))
    return b64encode(arg_bytes(arg), url, padded)


def host_b64decode(text: str, variant: str, fmt: str) -> list[str]:
    url, padded = VARIANTS.get(variant, (False, True))
    try:
        data = b64decode(go_utf8(text), url, padded)
    except CorruptInputError as exc:
        return ["err", str(exc)]
    return ["ok", go_string(data) if fmt == "s" else to_latin1(data)]


def install(vu: "VU") -> None:
    engine = vu.engine
    assert engine is not None
    engine.export("encoding.b64encode", host_b64encode)
    engine.export("encoding.b64decode", host_b64decode)
