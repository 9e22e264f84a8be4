"""Go-compatible durations (runner.md §1).

**Representation:** every duration in jsrunner's configuration core is an ``int`` number of
**nanoseconds**, exactly like Go's ``time.Duration``.  That keeps parsing, arithmetic and the
``String()`` text bit-for-bit identical to k6 (``1.5s``, ``500.000001ms``, ``10m0s``).  Use
:func:`to_seconds` / :func:`from_seconds` at the boundary with ``time.monotonic()``.

Three parsers exist because k6 uses three:

* :func:`parse_go_duration` -- Go's ``time.ParseDuration`` (``1m30s``, ``1.5s``, ``-2h``,
  ``1us``/``1µs``, ``0``); used by CLI flags such as ``-d`` (``-d 1500`` is an error there).
* :func:`parse_k6_duration` -- k6's ``types.ParseExtendedDuration``: a bare number means
  milliseconds (``"1500"`` → 1.5 s), a ``d`` day prefix is allowed (``"1d2h"``), anything else
  goes to the Go parser.  Used for env vars, ``-s`` stages and string values in JSON.
* :func:`parse_json_duration` -- a JSON value as in the script's ``options``/config file: a
  number is milliseconds (``1500`` → 1.5 s, ``1.5`` → 1.5 ms), a string goes through
  :func:`parse_k6_duration`, anything else is ``'<json>' is not a valid duration value``.

All of them raise :class:`DurationError` (a ``ValueError``) carrying Go's exact error text,
e.g. ``time: invalid duration "abc"``; callers wrap it into ConfigError/CommandLineError.
"""

from __future__ import annotations

import json
import math
import re

__all__ = [
    "NANOSECOND", "MICROSECOND", "MILLISECOND", "SECOND", "MINUTE", "HOUR",
    "DurationError", "parse_go_duration", "parse_k6_duration", "parse_json_duration",
    "format_duration", "round_duration", "to_seconds", "from_seconds",
]

NANOSECOND = 1
MICROSECOND = 1_000
MILLISECOND = 1_000_000
SECOND = 1_000_000_000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_MAX_INT64 = (1 << 63) - 1
_UNITS = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "µs": MICROSECOND,  # U+00B5 micro sign
    "μs": MICROSECOND,  # U+03BC Greek mu
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}


class DurationError(ValueError):
    """A duration could not be parsed; ``str(err)`` is Go's error text."""


def _go_quote(s: str) -> str:
    """Go's ``time.quote``: ``"..."`` with non-ASCII/control bytes as ``\\xNN``."""
    out = ['"']
    for ch in s:
        if ord(ch) >= 0x80 or ch < " ":
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))
        else:
            if ch in '"\\':
                out.append("\\")
            out.append(ch)
    out.append('"')
    return "".join(out)


def _invalid(orig: str) -> DurationError:
    return DurationError("time: invalid duration " + _go_quote(orig))


def parse_go_duration(text: str) -> int:
    """Port of Go's ``time.ParseDuration``; returns nanoseconds."""
    orig = text
    s = text
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if s == "":
        raise _invalid(orig)
    total = 0
    while s:
        if not (s[0] == "." or "0" <= s[0] <= "9"):
            raise _invalid(orig)
        # leading integer
        i = 0
        v = 0
        while i < len(s) and "0" <= s[i] <= "9":
            if v > (1 << 63) // 10:
                raise _invalid(orig)
            v = v * 10 + (ord(s[i]) - 48)
            if v > 1 << 63:
                raise _invalid(orig)
            i += 1
        pre = i > 0
        s = s[i:]
        # fraction
        f, scale, post = 0, 1.0, False
        if s and s[0] == ".":
            s = s[1:]
            i = 0
            overflow = False
            while i < len(s) and "0" <= s[i] <= "9":
                if not overflow:
                    if f > _MAX_INT64 // 10:
                        overflow = True
                    else:
                        y = f * 10 + (ord(s[i]) - 48)
                        if y > 1 << 63:
                            overflow = True
                        else:
                            f = y
                            scale *= 10
                i += 1
            post = i > 0
            s = s[i:]
        if not pre and not post:
            raise _invalid(orig)
        # unit
        i = 0
        while i < len(s) and not (s[i] == "." or "0" <= s[i] <= "9"):
            i += 1
        if i == 0:
            raise DurationError("time: missing unit in duration " + _go_quote(orig))
        u = s[:i]
        s = s[i:]
        unit = _UNITS.get(u)
        if unit is None:
            raise DurationError(
                "time: unknown unit " + _go_quote(u) + " in duration " + _go_quote(orig))
        if v > (1 << 63) // unit:
            raise _invalid(orig)
        v *= unit
        if f > 0:
            v += int(float(f) * (float(unit) / scale))
            if v > 1 << 63:
                raise _invalid(orig)
        total += v
        if total > 1 << 63:
            raise _invalid(orig)
    if neg:
        return -total
    if total > _MAX_INT64:
        raise _invalid(orig)
    return total


_FLOAT_RE = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z")
_INT_RE = re.compile(r"[+-]?\d+\Z")


def _ms_float_to_ns(value: float) -> int:
    """Go's ``time.Duration(t * float64(time.Millisecond))`` (truncation toward zero)."""
    x = float(value) * 1e6
    if math.isnan(x) or math.isinf(x):
        raise DurationError(f"'{value}' is not a valid duration value")
    return int(x)


def _parse_int(text: str) -> int:
    """Go's ``strconv.ParseInt(s, 10, 64)`` with its error text."""
    if not _INT_RE.match(text):
        raise DurationError(f'strconv.ParseInt: parsing {json.dumps(text)}: invalid syntax')
    v = int(text)
    if not -(1 << 63) <= v <= _MAX_INT64:
        raise DurationError(f'strconv.ParseInt: parsing {json.dumps(text)}: value out of range')
    return v


def parse_k6_duration(text: str) -> int:
    """k6's ``types.ParseExtendedDuration`` (bare number = ms, ``NdXhYm`` days allowed)."""
    if _FLOAT_RE.match(text):
        return _ms_float_to_ns(float(text))
    d_pos = text.find("d")
    if d_pos < 0:
        return parse_go_duration(text)
    hours = 0
    if d_pos + 1 < len(text):
        hours = parse_go_duration(text[d_pos + 1:])
        if hours < 0:
            raise DurationError(f"invalid time format '{text[d_pos + 1:]}'")
    days = _parse_int(text[:d_pos])
    if days < 0:
        hours = -hours
    return days * 24 * HOUR + hours


def parse_json_duration(value: object) -> int:
    """A JSON duration value (script options / config file); number = milliseconds."""
    if isinstance(value, bool) or value is None:
        raise DurationError(f"'{json.dumps(value)}' is not a valid duration value")
    if isinstance(value, int):
        return value * MILLISECOND
    if isinstance(value, float):
        return _ms_float_to_ns(value)
    if isinstance(value, str):
        return parse_k6_duration(value)
    raise DurationError(
        f"'{json.dumps(value, separators=(',', ':'))}' is not a valid duration value")


def _fmt_frac(v: int, prec: int) -> tuple[str, int]:
    digits = []
    printed = False
    for _ in range(prec):
        digit = v % 10
        printed = printed or digit != 0
        if printed:
            digits.append(str(digit))
        v //= 10
    frac = ("." + "".join(reversed(digits))) if printed else ""
    return frac, v


def format_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``: ``1h2m3s``, ``10m0s``, ``1.5s``, ``500ms``, ``0s``."""
    ns = int(ns)
    neg = ns < 0
    u = -ns if neg else ns
    if u < SECOND:
        if u == 0:
            return "0s"
        if u < MICROSECOND:
            prec, unit = 0, "ns"
        elif u < MILLISECOND:
            prec, unit = 3, "µs"
        else:
            prec, unit = 6, "ms"
        frac, u = _fmt_frac(u, prec)
        text = f"{u}{frac}{unit}"
    else:
        frac, u = _fmt_frac(u, 9)
        text = f"{u % 60}{frac}s"
        u //= 60
        if u > 0:
            text = f"{u % 60}m" + text
            u //= 60
            if u > 0:
                text = f"{u}h" + text
    return "-" + text if neg else text


def round_duration(ns: int, multiple: int) -> int:
    """Go's ``Duration.Round(m)``: halfway values round away from zero."""
    if multiple <= 0:
        return ns
    r = abs(ns) % multiple
    if ns < 0:
        if r + r < multiple:
            return ns + r
        return ns - multiple + r
    if r + r < multiple:
        return ns - r
    return ns + multiple - r


def to_seconds(ns: int) -> float:
    """Nanoseconds → float seconds (for ``time.monotonic()`` arithmetic)."""
    return ns / SECOND


def from_seconds(seconds: float) -> int:
    """Float seconds → nanoseconds (truncated)."""
    return int(seconds * SECOND)
