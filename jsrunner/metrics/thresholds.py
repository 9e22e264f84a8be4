"""Threshold parsing, validation and evaluation (runner.md §4).

Everything a script can get wrong here ends the run with exit 104 and one of k6's
exact messages, so the parser mirrors k6's scanning order (operators tried in a fixed
order with a first-occurrence split, Go ``ParseFloat`` number syntax) instead of a
cleaner grammar that would accept or reject different inputs.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from jsrunner.errors import ConfigError
from jsrunner.gostrings import go_quote
from jsrunner.metrics.registry import MetricType, Registry
from jsrunner.metrics.sinks import CounterSink, GaugeSink, RateSink, Sink, TrendSink

__all__ = [
    "Threshold", "parse_expression", "parse_go_float", "go_quote", "parse_metric_key",
    "submetric_tags", "parse_thresholds_config", "validate_thresholds", "SUPPORTED_AGGREGATIONS",
    "sink_values", "run_thresholds", "crossed_message", "abort_message", "parse_go_duration_ms",
]

# k6 tries the operators in this order and splits at the first occurrence of the
# first one found, so "count <<< 1" splits on "<" and fails on the right-hand side.
_OPERATORS = ("<=", "<", ">=", ">", "===", "==", "!=")
_METHODS = ("value", "count", "rate", "avg", "min", "med", "max", "p")

SUPPORTED_AGGREGATIONS: dict[MetricType, tuple[str, ...]] = {
    MetricType.COUNTER: ("count", "rate"),
    MetricType.GAUGE: ("value",),
    MetricType.RATE: ("rate",),
    MetricType.TREND: ("avg", "min", "max", "med", "p"),
}


@dataclass
class Threshold:
    """One parsed threshold expression plus its abort settings and last result."""

    source: str
    method: str
    percentile: float | None
    operator: str
    value: float
    abort_on_fail: bool = False
    #: ``delayAbortEval`` in milliseconds, ``None`` when not set
    delay_abort_eval_ms: float | None = None
    last_failed: bool = False

    @property
    def sink_key(self) -> str:
        """Key of the aggregated value this threshold compares (``p(95)``, ``avg`` …)."""
        if self.method == "p":
            return f"p({_go_g(self.percentile or 0.0)})"
        return self.method

    def check(self, lhs: float) -> bool:
        """Apply the operator (``===`` is ``==``: all values are floats)."""
        op, rhs = self.operator, self.value
        if op == ">":
            return lhs > rhs
        if op == ">=":
            return lhs >= rhs
        if op == "<=":
            return lhs <= rhs
        if op == "<":
            return lhs < rhs
        if op in ("==", "==="):
            return lhs == rhs
        return lhs != rhs


def _go_g(x: float) -> str:
    """Go ``%g`` for the percentile values that appear in sink keys."""
    if x == int(x) and abs(x) < 1e21:
        return str(int(x))
    return repr(x)


_DEC_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
_HEX_FLOAT = re.compile(r"[+-]?0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?\d+\Z")
_SPECIAL = {"inf": math.inf, "+inf": math.inf, "-inf": -math.inf, "infinity": math.inf,
            "+infinity": math.inf, "-infinity": -math.inf, "nan": math.nan}


def parse_go_float(s: str) -> float:
    """Go ``strconv.ParseFloat(s, 64)``; raises ``ValueError`` with Go's error text."""
    special = _SPECIAL.get(s.lower())
    if special is not None:
        return special
    if _DEC_FLOAT.match(s):
        v = float(s)
    elif _HEX_FLOAT.match(s):
        sign = -1.0 if s.startswith("-") else 1.0
        v = sign * float.fromhex(s.lstrip("+-"))
    else:
        raise ValueError(f"strconv.ParseFloat: parsing {go_quote(s)}: invalid syntax")
    if math.isinf(v):
        raise ValueError(f"strconv.ParseFloat: parsing {go_quote(s)}: value out of range")
    return v


def parse_expression(source: str, *, abort_on_fail: bool = False,
                     delay_abort_eval_ms: float | None = None) -> Threshold:
    """Parse ``<aggregation> <op> <number>``; raise ``ConfigError`` with k6's texts."""
    src = source.strip()
    for op in _OPERATORS:
        lhs, sep, rhs = src.partition(op)
        if sep:
            lhs, rhs = lhs.strip(), rhs.strip()
            break
    else:
        raise ConfigError(
            f"failed parsing threshold expression {go_quote(src)}; reason: malformed threshold expression")
    percentile: float | None = None
    if lhs in _METHODS:
        method = lhs
    elif lhs.startswith("p(") and lhs.endswith(")"):
        try:
            percentile = parse_go_float(lhs[2:-1])
        except ValueError as e:
            raise ConfigError(
                f"failed parsing threshold expression's {go_quote(src)} left hand side; "
                f"reason: malformed percentile value; reason: {e}") from None
        method = "p"
    else:
        raise ConfigError(
            f"failed parsing threshold expression's {go_quote(src)} left hand side; "
            "reason: failed parsing method from expression")
    try:
        value = parse_go_float(rhs)
    except ValueError as e:
        raise ConfigError(
            f"failed parsing threshold expresion's {go_quote(src)} right hand side; reason: {e}") from None
    return Threshold(src, method, percentile, op, value, abort_on_fail, delay_abort_eval_ms)


_DUR_RE = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")
_DUR_UNITS_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0, "s": 1000.0,
                 "m": 60000.0, "h": 3600000.0, "d": 86400000.0}


def parse_go_duration_ms(value: Any) -> float:
    """A k6 duration (Go duration string, ``d`` allowed; a number = milliseconds) in ms."""
    if isinstance(value, bool):
        raise ConfigError(f"'{str(value).lower()}' is not a valid duration value")
    if isinstance(value, (int, float)):
        return float(value)
    s = str(value)
    body = s[1:] if s[:1] in "+-" else s
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(body):
        m = _DUR_RE.match(body, pos)
        if not m:
            raise ConfigError(f"time: invalid duration {go_quote(s)}")
        total += float(m.group(1)) * _DUR_UNITS_MS[m.group(2)]
        pos = m.end()
    if not body:
        raise ConfigError(f"time: invalid duration {go_quote(s)}")
    return -total if s.startswith("-") else total


def _json_type(v: Any) -> str:
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, (list, tuple)):
        return "array"
    return "object"


def parse_thresholds_config(config: Mapping[str, Any] | None) -> dict[str, list[Threshold]]:
    """Parse ``options.thresholds`` (already JSON-decoded) into parsed thresholds.

    Shape errors give Go's ``json: cannot unmarshal …`` text (the options loader adds
    its ``could not initialize …`` prefix); expression errors give k6's parse messages.
    Keys keep definition order.
    """
    if not config:
        return {}
    shaped: dict[str, list[tuple[str, bool, Any]]] = {}
    for key, entries in config.items():
        if entries is None:
            shaped[key] = []
            continue
        if not isinstance(entries, (list, tuple)):
            raise ConfigError(
                f"json: cannot unmarshal {_json_type(entries)} into Go struct field "
                "Options.thresholds of type []metrics.thresholdConfig")
        items: list[tuple[str, bool, Any]] = []
        for entry in entries:
            if isinstance(entry, str):
                items.append((entry, False, None))
                continue
            if entry is None:
                items.append(("", False, None))
                continue
            if not isinstance(entry, Mapping):
                raise ConfigError(
                    f"json: cannot unmarshal {_json_type(entry)} into Go struct field "
                    "Options.thresholds of type metrics.rawThresholdConfig")
            src = entry.get("threshold", "")
            if src is None:
                src = ""
            if not isinstance(src, str):
                raise ConfigError(
                    f"json: cannot unmarshal {_json_type(src)} into Go struct field "
                    "Options.thresholds.threshold of type string")
            abort = entry.get("abortOnFail", False)
            if abort is None:
                abort = False
            if not isinstance(abort, bool):
                raise ConfigError(
                    f"json: cannot unmarshal {_json_type(abort)} into Go struct field "
                    "Options.thresholds.abortOnFail of type bool")
            items.append((src, abort, entry.get("delayAbortEval")))
        shaped[key] = items
    result: dict[str, list[Threshold]] = {}
    for key, items in shaped.items():
        parsed = []
        for src, abort, delay in items:
            delay_ms = None if delay is None else parse_go_duration_ms(delay)
            parsed.append(parse_expression(src, abort_on_fail=abort, delay_abort_eval_ms=delay_ms))
        result[key] = parsed
    return result


_NAME_PREFIX = "unable to validate threshold expressions; reason: parsing metric name failed, "


def parse_metric_key(key: str) -> tuple[str, list[str] | None]:
    """k6's ``ParseMetricName``: ``name{k:v,...}`` → (name, ["k:v", ...]) or ConfigError."""
    open_pos = key.find("{")
    close_pos = key.rfind("}")
    if open_pos == -1 and close_pos == -1:
        return key, None
    q = go_quote(key)
    if (open_pos == -1) != (close_pos == -1):
        raise ConfigError(_NAME_PREFIX + f"metric {q} has unmatched opening/close curly brace")
    if close_pos < open_pos:
        raise ConfigError(_NAME_PREFIX + f"metric {q} closing curly brace appears before opening one")
    if close_pos != len(key) - 1:
        raise ConfigError(_NAME_PREFIX + f"metric {q} lacks a closing curly brace in its last position")
    tags = key[open_pos + 1:close_pos].split(",")
    for i, t in enumerate(tags):
        k, sep, v = t.partition(":")
        if not sep or v == "":
            raise ConfigError(_NAME_PREFIX + f"metric {go_quote(t)} tag expression is malformed")
        tags[i] = t.strip()
    return key[:open_pos], tags


def submetric_tags(inner: str) -> tuple[str, dict[str, str]]:
    """k6's ``AddSubmetric`` normalisation: (trimmed brace content, tag filter).

    Spaces and surrounding quotes are trimmed around keys and values for matching; the
    returned suffix (used in the sub-metric's name) is only trimmed at its ends.
    """
    suffix = inner.strip()
    tags: dict[str, str] = {}
    for kv in suffix.split(","):
        if kv == "":
            continue
        k, sep, v = kv.partition(":")
        key = k.strip().strip("\"'")
        tags[key] = v.strip().strip("\"'") if sep else ""
    return suffix, tags


def validate_thresholds(thresholds: Mapping[str, list[Threshold]], registry: Registry) -> None:
    """Check every key names an existing metric and every aggregation fits its type."""
    for key, ths in thresholds.items():
        name, _ = parse_metric_key(key)
        metric = registry.get(name)
        if metric is None:
            raise ConfigError(
                f"invalid threshold defined on {key}; reason: no metric name {go_quote(key)} found")
        supported = SUPPORTED_AGGREGATIONS[metric.type]
        for th in ths:
            if th.method not in supported:
                raise ConfigError(
                    f"invalid threshold {go_quote(th.source)} applied on metric {key}; reason: "
                    f"unsupported aggregation method {th.method} on metric of type "
                    f"{metric.type.value}. supported aggregation methods for this metric are: "
                    + ", ".join(supported))


def sink_values(sink: Sink, thresholds: Iterable[Threshold], duration_ms: float) -> dict[str, float]:
    """The aggregated values the thresholds of one (sub-)metric compare against.

    Zero samples: Counter count/rate 0, Gauge value 0, every Trend aggregation 0; a Rate
    without samples yields no ``rate`` (its thresholds are not evaluated, see
    ``run_thresholds``).
    """
    if isinstance(sink, CounterSink):
        return {"count": sink.count, "rate": sink.rate(duration_ms)}
    if isinstance(sink, GaugeSink):
        return {"value": sink.value}
    if isinstance(sink, RateSink):
        return {"rate": sink.passes / sink.total} if sink.total else {}
    assert isinstance(sink, TrendSink)
    vals = {"min": sink.min, "max": sink.max, "avg": sink.avg, "med": sink.med}
    for th in thresholds:
        if th.method == "p":
            vals[th.sink_key] = sink.percentile((th.percentile or 0.0) / 100.0)
    return vals


def run_thresholds(thresholds: list[Threshold], sink: Sink, duration_ms: float,
                   time_spent_ms: float | None = None) -> tuple[bool, bool]:
    """Evaluate one metric's thresholds → (all passed, abort requested).

    Sets ``last_failed`` on each. Rate thresholds with no samples always pass (observed
    k6 behaviour). Abort follows k6: a crossed ``abortOnFail`` threshold aborts unless
    its ``delayAbortEval`` is set and not yet strictly exceeded by ``time_spent_ms``.
    """
    vals = sink_values(sink, thresholds, duration_ms)
    spent = duration_ms if time_spent_ms is None else time_spent_ms
    ok_all, abort = True, False
    for th in thresholds:
        lhs = vals.get(th.sink_key)
        passed = True if lhs is None else th.check(lhs)
        th.last_failed = not passed
        if passed:
            continue
        ok_all = False
        if abort or not th.abort_on_fail:
            continue
        abort = th.delay_abort_eval_ms is None or th.delay_abort_eval_ms < spent
    return ok_all, abort


def crossed_message(names: Iterable[str]) -> str:
    """End-of-test error text; names sorted by byte order like k6."""
    joined = ", ".join(sorted(names, key=lambda s: s.encode("utf-8")))
    return f"thresholds on metrics '{joined}' have been crossed"


def abort_message(names: Iterable[str]) -> str:
    """Text logged (and returned as run error) when an ``abortOnFail`` threshold fires."""
    joined = ", ".join(sorted(names, key=lambda s: s.encode("utf-8")))
    return (f"thresholds on metrics '{joined}' were crossed; at least one has abortOnFail "
            "enabled, stopping test prematurely")
