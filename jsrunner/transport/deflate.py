"""permessage-deflate (RFC 7692) for the client side, as k6/gorilla negotiates it.

We offer ``permessage-deflate; server_no_context_takeover; client_no_context_takeover``;
like gorilla, the server's answer must contain both ``*_no_context_takeover`` parameters,
otherwise the handshake fails with ``websocket: invalid compression negotiation``.
Without context takeover every message is (de)compressed with a fresh zlib stream.
"""

from __future__ import annotations

import zlib

OFFER = "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
INVALID_NEGOTIATION = "websocket: invalid compression negotiation"
_TAIL = b"\x00\x00\xff\xff"


class NegotiationError(Exception):
    pass


def parse_extensions(values: list[str]) -> list[tuple[str, dict[str, str | None]]]:
    """Parse ``Sec-WebSocket-Extensions`` header values into ``[(name, {param: value})]``."""
    out = []
    for value in values:
        for ext in value.split(","):
            parts = [p.strip() for p in ext.split(";")]
            if not parts or not parts[0]:
                continue
            params: dict[str, str | None] = {}
            for p in parts[1:]:
                if not p:
                    continue
                if "=" in p:
                    k, v = p.split("=", 1)
                    params[k.strip().lower()] = v.strip().strip('"')
                else:
                    params[p.lower()] = None
            out.append((parts[0].lower(), params))
    return out


class PerMessageDeflate:
    """Compressor/decompressor for one connection (no context takeover)."""

    def __init__(self, client_max_window_bits: int = 15) -> None:
        self.client_wbits = max(9, min(15, client_max_window_bits))

    @classmethod
    def from_response(cls, values: list[str], offered: bool) -> "PerMessageDeflate | None":
        """The codec to use given the response's extension header values, or None."""
        for name, params in parse_extensions(values):
            if name != "permessage-deflate":
                continue
            if not offered:
                raise NegotiationError(INVALID_NEGOTIATION)
            if "server_no_context_takeover" not in params or "client_no_context_takeover" not in params:
                raise NegotiationError(INVALID_NEGOTIATION)
            wbits = 15
            raw = params.get("client_max_window_bits")
            if raw:
                try:
                    wbits = int(raw)
                except ValueError:
                    raise NegotiationError(INVALID_NEGOTIATION) from None
            return cls(wbits)
        return None

    def compress(self, data: bytes) -> bytes:
        c = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -self.client_wbits)
        out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(_TAIL):
            out = out[:-4]
        return out or b"\x00"

    @staticmethod
    def decompress(data: bytes, max_size: int = 0) -> bytes:
        d = zlib.decompressobj(-15)
        out = d.decompress(data + _TAIL, max_size) if max_size else d.decompress(data + _TAIL)
        return out
