"""Go's string quoting, for error texts that must read exactly as k6's (Go) do."""

from __future__ import annotations

__all__ = ["go_quote"]


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote`` / ``%q`` of a string (enough of it for messages).

    Lone surrogates (what JS strings can hold and UTF-8 cannot) become ``\\ufffd``, as Go
    quotes the replacement character of invalid UTF-8.
    """
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif o < 0x20 or o == 0x7F:
            out.append(f"\\x{o:02x}")
        elif 0xD800 <= o <= 0xDFFF:
            out.append("\\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)
