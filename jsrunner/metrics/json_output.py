"""``--out json=FILE``: one JSON object per line, byte-compatible with k6 (runner.md §7).

k6 writes these lines with Go's JSON encoder, so numbers use Go's shortest ``%g``
form (``1.234567e+06``, ``1e-05``), strings escape ``<``, ``>``, ``&`` and U+2028/9
as ``\\u003c``…, and times are RFC3339Nano in UTC with the fraction's trailing zeros
dropped. Write failures (full disk, closed pipe) become ``JsonOutputError`` with a
one-line message, never a traceback.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import sys
import time
from typing import IO, Any, Iterable

from jsrunner.errors import JsRunnerError
from jsrunner.metrics.engine import MetricsEngine, Sample
from jsrunner.metrics.format import go_duration

__all__ = ["JsonOutput", "JsonOutputError", "go_float", "go_json_string", "rfc3339nano"]


class JsonOutputError(JsRunnerError):
    """The JSON output file cannot be opened or written."""


def go_float(v: float) -> str:
    """Go ``strconv.FormatFloat(v, 'g', -1, 64)`` (what k6's JSON output prints)."""
    if isinstance(v, bool):
        v = int(v)
    v = float(v)
    if 1e-4 <= abs(v) < 1e6:
        # 'g' prints these without exponent, with the shortest round-trip digits: the
        # digits of Python's repr, which adds ".0" to whole numbers
        return str(int(v)) if v.is_integer() else repr(v)
    return _go_float_general(v)


def _go_float_general(v: float) -> str:
    if math.isnan(v) or math.isinf(v):
        # Go's encoder would fail on these; k6 never records them as sample values
        return "null"
    if v == 0:
        return "-0" if math.copysign(1.0, v) < 0 else "0"
    r = repr(abs(v))
    mant, _, exp_s = r.partition("e")
    ip, _, fp = mant.partition(".")
    if fp == "0":
        fp = ""
    digits = (ip + fp).lstrip("0")
    lead = len(ip + fp) - len(digits)
    dp = len(ip) + (int(exp_s) if exp_s else 0) - lead  # value = 0.<digits> × 10^dp
    digits = digits.rstrip("0") or "0"
    exp = dp - 1
    sign = "-" if v < 0 else ""
    if exp < -4 or exp >= 6:  # 'g' with shortest precision decides with precision 6
        m = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{m}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json_string(s: str) -> str:
    """A JSON string literal escaped like Go's ``encoding/json`` (HTML-safe)."""
    out = json.dumps(s, ensure_ascii=False)
    if any(c in out for c in _GO_ESCAPES):
        out = "".join(_GO_ESCAPES.get(c, c) for c in out)
    return out


def _go_json(v: Any, html: bool = True) -> str:
    """Go-style JSON; ``html=False`` for k6's ``MarshalJSONWithoutHTMLEscape`` parts."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return go_float(v)
    if isinstance(v, str):
        if html:
            return go_json_string(v)
        out = json.dumps(v, ensure_ascii=False)
        return out.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(v, dict):
        return "{" + ",".join(f"{_go_json(str(k), html)}:{_go_json(x, html)}" for k, x in v.items()) + "}"
    return "[" + ",".join(_go_json(x, html) for x in v) + "]"


#: the last whole second formatted and its text (one tuple: replaced, never mutated)
_last_second: tuple[int, str] = (-1, "")


def rfc3339nano(time_ns: int) -> str:
    """Go ``time.RFC3339Nano`` in UTC: fraction without trailing zeros, none if zero."""
    global _last_second
    secs, ns = divmod(int(time_ns), 1_000_000_000)
    last = _last_second
    if last[0] == secs:
        base = last[1]
    else:
        base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
        _last_second = (secs, base)
    if ns:
        return f"{base}.{str(ns).rjust(9, '0').rstrip('0')}Z"
    return base + "Z"


def _sorted_tags(tags: dict[str, str]) -> str:
    return "{" + ",".join(f"{go_json_string(k)}:{go_json_string(str(tags[k]))}"
                          for k in sorted(tags)) + "}"


class JsonOutput:
    """Writer of one ``--out json`` destination.

    ``target`` is a path, ``"-"`` (or ``""``) for stdout, a ``.gz`` suffix gzips.
    ``engine`` supplies metric definitions, thresholds and sub-metrics for the
    ``Metric`` lines; configure thresholds before the first ``write``.
    """

    def __init__(self, target: str, engine: MetricsEngine, *, stdout: IO[str] | None = None) -> None:
        self.target = target or "-"
        self.engine = engine
        self._seen: set[str] = set()
        self._heads: dict[str, str] = {}  # metric name → start of its Point lines
        self._close_fh = False
        self._closed = False
        try:
            if self.target == "-":
                self._fh: IO[str] = stdout if stdout is not None else sys.stdout
            elif self.target.endswith(".gz"):
                self._fh = io.TextIOWrapper(gzip.open(self.target, "wb"), encoding="utf-8",
                                            newline="\n")
                self._close_fh = True
            else:
                self._fh = open(self.target, "w", encoding="utf-8", newline="\n")
                self._close_fh = True
        except OSError as e:
            raise JsonOutputError(f"could not create the JSON output file '{self.target}': "
                                  f"{_os_text(e)}") from None

    def metric_line(self, name: str) -> str:
        """The ``Metric`` line announcing ``name`` (before its first point)."""
        m = self.engine.metric(name)
        ths = []
        for t in self.engine.thresholds().get(name, []) if "{" not in name else []:
            if t.abort_on_fail:
                delay = None if t.delay_abort_eval_ms is None else go_duration(t.delay_abort_eval_ms)
                ths.append({"threshold": t.source, "abortOnFail": True, "delayAbortEval": delay})
            else:
                ths.append(t.source)
        subs = self.engine.submetrics(name)
        sub_json = None if not subs else [
            {"name": s.name, "suffix": s.suffix, "tags": dict(sorted(s.tags.items()))} for s in subs]
        # k6 marshals the thresholds without HTML escaping ("count>0"), the rest with it
        return ('{"type":"Metric","data":{"name":' + go_json_string(name)
                + ',"type":"' + m.type.value + '","contains":"' + m.contains.value
                + '","thresholds":' + _go_json(ths, html=False)
                + ',"submetrics":' + _go_json(sub_json) + '},"metric":' + go_json_string(name) + "}")

    def format_batch(self, samples: Iterable[Sample]) -> str:
        """Lines for a batch of samples (``Metric`` lines included where first seen).

        Samples share their tag dicts (a VU's tag sets, runs of samples), so the JSON of
        each dict is made once per batch; the cache holds the dict, so its id stays its.
        """
        out: list[str] = []
        seen = self._seen
        heads = self._heads
        texts: dict[int, tuple[Any, str]] = {}
        for name, t, v, tags, meta in samples:
            head = heads.get(name)
            if head is None:
                if name not in seen:
                    out.append(self.metric_line(name))
                    seen.add(name)
                head = heads[name] = '{"metric":' + go_json_string(name) + ',"type":"Point","data":{"time":"'
            hit = texts.get(id(tags))
            if hit is None or hit[0] is not tags:
                hit = texts[id(tags)] = (tags, _sorted_tags(tags))
            line = head + rfc3339nano(t) + '","value":' + go_float(v) + ',"tags":' + hit[1]
            if meta:
                hit = texts.get(id(meta))
                if hit is None or hit[0] is not meta:
                    hit = texts[id(meta)] = (meta, _sorted_tags(meta))
                line += ',"metadata":' + hit[1]
            out.append(line + "}}")
        return "\n".join(out) + "\n" if out else ""

    def write(self, samples: Iterable[Sample]) -> None:
        """Append a batch; raises ``JsonOutputError`` on any write failure."""
        text = self.format_batch(samples)
        if not text:
            return
        try:
            self._fh.write(text)
        except OSError as e:
            raise JsonOutputError(f"could not write to the JSON output '{self.target}': "
                                  f"{_os_text(e)}") from None

    def close(self) -> None:
        """Flush and close (stdout is only flushed); idempotent."""
        if self._closed:
            return
        self._closed = True
        err: OSError | None = None
        try:
            self._fh.flush()
        except OSError as e:
            err = e
        if self._close_fh:
            try:
                self._fh.close()
            except OSError as e:
                err = err or e
        if err is not None:
            raise JsonOutputError(f"could not write to the JSON output '{self.target}': "
                                  f"{_os_text(err)}") from None

    def __enter__(self) -> "JsonOutput":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _os_text(e: OSError) -> str:
    return os.strerror(e.errno) if e.errno else str(e)
