"""Number, time, data and percent formatting of k6's end-of-test summary (runner.md §8.1.5).

k6 formats the summary in JavaScript, so every helper here reproduces a JS primitive
(``Number#toString``, ``Number#toFixed``, ``Math.trunc``) on IEEE doubles rather than using
Python's own rounding rules: the summary is compared character by character.
Also holds ``locale_compare_key``, the ordering of ``String#localeCompare`` (§8.1.4).
"""

from __future__ import annotations

import math
import unicodedata
from decimal import ROUND_HALF_UP, Decimal

__all__ = [
    "js_number", "js_to_fixed", "fixed_no_trailing_zeros", "trunc_no_trailing_zeros",
    "humanize_bytes", "humanize_duration", "humanize_value", "format_percent",
    "go_duration", "locale_compare_key", "metric_sort_key", "TIME_UNITS",
]

#: ``--summary-time-unit`` values → (display unit, factor applied to milliseconds)
TIME_UNITS: dict[str, tuple[str, float]] = {"s": ("s", 0.001), "ms": ("ms", 1.0), "us": ("µs", 1000.0)}


def js_number(x: float | int) -> str:
    """``String(x)`` for a JS number: shortest round-trip digits, JS exponent rules.

    Python's ``repr`` already yields the shortest round-trip digits; only the layout
    differs (JS switches to exponent form below 1e-6 and from 1e21, writes ``1e-7``).
    """
    if isinstance(x, bool):
        x = int(x)
    if isinstance(x, int):
        if abs(x) < 10**21:
            return str(x)
        x = float(x)
    if x != x:
        return "NaN"
    if x in (math.inf, -math.inf):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    _, dig, exp10 = Decimal(repr(abs(x))).as_tuple()
    digits = "".join(map(str, dig))
    stripped = digits.rstrip("0")
    exp10 = int(exp10) + len(digits) - len(stripped)
    digits = stripped.lstrip("0") or "0"
    # value = 0.<digits> x 10^n
    n = len(digits) + exp10
    k = len(digits)
    if k <= n <= 21:
        return sign + digits + "0" * (n - k)
    if 0 < n <= 21:
        return sign + digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return sign + "0." + "0" * (-n) + digits
    e = n - 1
    es = f"e+{e}" if e >= 0 else f"e-{-e}"
    if k == 1:
        return sign + digits + es
    return sign + digits[0] + "." + digits[1:] + es


def js_to_fixed(x: float, digits: int) -> str:
    """``x.toFixed(digits)``: exact decimal value of the double, ties away from zero."""
    if x != x:
        return "NaN"
    if abs(x) >= 1e21 or x in (math.inf, -math.inf):
        return js_number(x)
    if x == 0:
        x = 0.0  # (-0).toFixed(2) is "0.00", while (-0.001).toFixed(2) is "-0.00"
    q = Decimal(1).scaleb(-digits)
    return f"{Decimal(x).quantize(q, rounding=ROUND_HALF_UP):f}"


def fixed_no_trailing_zeros(x: float, prec: int) -> str:
    """``parseFloat(x.toFixed(prec)).toString()`` — k6's plain-number format with prec 6."""
    s = js_to_fixed(x, prec)
    if s in ("NaN", "Infinity", "-Infinity"):
        return s
    return js_number(float(s))


def trunc_no_trailing_zeros(x: float, prec: int) -> str:
    """Truncate (not round) to ``prec`` decimals, then drop trailing zeros (durations)."""
    mult = 10.0**prec
    return fixed_no_trailing_zeros(_js_trunc(mult * x) / mult, prec)


def _js_trunc(x: float) -> float:
    if x != x or x in (math.inf, -math.inf):
        return x
    return float(math.trunc(x))


def humanize_bytes(b: float) -> str:
    """Data values: raw below 10, else base-1000 units with one decimal below 10."""
    units = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
    if b < 10:
        return js_number(b) + " B"
    e = math.floor(math.log(b) / math.log(1000))
    suffix = units[int(e)] if 0 <= e < len(units) else "undefined"
    val = math.floor((b / 1000.0**e) * 10 + 0.5) / 10
    return js_to_fixed(val, 1 if val < 10 else 0) + " " + suffix


def _generic_duration(d: float) -> str:
    if d == 0:
        return "0s"
    if d != d:
        return "NaNhNaNmNaNs"  # what the JS arithmetic yields for NaN
    if d < 0.001:
        return js_number(int(_js_trunc(d * 1000000))) + "ns"
    if d < 1:
        return trunc_no_trailing_zeros(d * 1000, 2) + "µs"
    if d < 1000:
        return trunc_no_trailing_zeros(d, 2) + "ms"
    result = trunc_no_trailing_zeros(math.fmod(d, 60000) / 1000, 0 if d > 60000 else 2) + "s"
    rem = _js_trunc(d / 60000)
    if rem < 1:
        return result
    result = js_number(int(math.fmod(rem, 60))) + "m" + result
    rem = _js_trunc(rem / 60)
    if rem < 1:
        return result
    return js_number(int(rem)) + "h" + result


def humanize_duration(ms: float, time_unit: str = "") -> str:
    """Time values (milliseconds): adaptive unit, or fixed ``--summary-time-unit`` with toFixed(2)."""
    if time_unit in TIME_UNITS:
        unit, coef = TIME_UNITS[time_unit]
        return js_to_fixed(ms * coef, 2) + unit
    return _generic_duration(ms)


def format_percent(rate: float) -> str:
    """Rate values: truncated to two decimals of a percent, always two decimals."""
    return js_to_fixed(_js_trunc(rate * 100 * 100) / 100, 2) + "%"


def humanize_value(val: float, mtype: str, contains: str, time_unit: str = "") -> str:
    """One summary value of a metric of type ``mtype`` holding ``contains`` values."""
    if mtype == "rate":
        return format_percent(val)
    if contains == "data":
        return humanize_bytes(val)
    if contains == "time":
        return humanize_duration(val, time_unit)
    return fixed_no_trailing_zeros(val, 6)


def go_duration(ms: float) -> str:
    """Go ``time.Duration.String()`` of a millisecond amount (``1m30s``, ``500ms``, ``0s``)."""
    ns = int(round(ms * 1_000_000))
    if ns == 0:
        return "0s"
    neg = ns < 0
    u = -ns if neg else ns
    if u < 1_000_000_000:
        if u < 1_000:
            s = f"{u}ns"
        elif u < 1_000_000:
            s = _go_frac(u, 3) + "µs"
        else:
            s = _go_frac(u, 6) + "ms"
    else:
        secs_ns = u % 60_000_000_000
        s = _go_frac(secs_ns, 9) + "s"
        mins = u // 60_000_000_000
        if mins:
            s = f"{mins % 60}m" + s
            hours = mins // 60
            if hours:
                s = f"{hours}h" + s
    return "-" + s if neg else s


def _go_frac(v: int, prec: int) -> str:
    whole, frac = divmod(v, 10**prec)
    fs = str(frac).rjust(prec, "0").rstrip("0")
    return f"{whole}.{fs}" if fs else str(whole)


# ---------------------------------------------------------------------------------------
# localeCompare ordering (root-locale Unicode collation, as k6's JS engine does it)

#: ASCII punctuation/symbols in root collation order (measured with k6's localeCompare);
#: they all sort before digits, digits before letters.
_PUNCT_ORDER = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"
_PRIMARY: dict[str, int] = {}
for _i, _c in enumerate("\t\n\x0b\x0c\r"):
    _PRIMARY[_c] = _i
for _i, _c in enumerate(_PUNCT_ORDER):
    _PRIMARY[_c] = 10 + _i
for _i, _c in enumerate("0123456789"):
    _PRIMARY[_c] = 100 + _i
for _i, _c in enumerate("abcdefghijklmnopqrstuvwxyz"):
    _PRIMARY[_c] = 200 + _i
    _PRIMARY[_c.upper()] = 200 + _i
_OTHER_BASE = 1000


def _char_weights(ch: str) -> tuple[list[int], list[int], list[int]]:
    p = _PRIMARY.get(ch)
    if p is not None:
        return [p], [0], [1 if ch.isupper() else 0]
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    bp = _PRIMARY.get(base)
    if bp is None:
        low = base.lower()
        bp = _PRIMARY.get(low, _OTHER_BASE + ord(low))
    return [bp], [0] + [1 + ord(m) for m in marks], [1 if base.isupper() else 0]


def locale_compare_key(s: str) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    """Sort key equivalent to JS ``a.localeCompare(b)`` in the root locale.

    Three levels like ICU: primary (letters case-insensitive; punctuation < digits <
    letters; digits char by char), secondary (accents), tertiary (lowercase first).
    Exact for ASCII (checked against k6 for all printable ASCII); other letters fall
    back to their NFD base letter, remaining characters sort after ``z`` by code point.
    """
    prim: list[int] = []
    sec: list[int] = []
    ter: list[int] = []
    for ch in s:
        p, se, t = _char_weights(ch)
        prim += p
        sec += se
        ter += t
    return tuple(prim), tuple(sec), tuple(ter)


def metric_sort_key(name: str) -> tuple[object, object]:
    """k6's metric ordering: by parent name (before ``{``), then by the brace part."""
    parent, brace, rest = name.partition("{")
    return locale_compare_key(parent), locale_compare_key(brace + rest)
