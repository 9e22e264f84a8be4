"""Metric definitions: names, types, value types and the built-in metrics (runtime.md §9).

The registry only knows *what* a metric is; the values live in sinks owned by the
``MetricsEngine``. Keeping definitions separate lets the JS bindings validate
``new Trend(...)`` in init code without touching any aggregation state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Iterator

from jsrunner.errors import MetricError

__all__ = [
    "MetricType", "ValueType", "Metric", "Registry", "BUILTIN_METRICS",
    "MetricTagError", "validate_metric_name", "tag_value_to_string", "validate_tags",
]


class MetricType(str, Enum):
    """The four k6 metric kinds; the value is k6's lowercase spelling."""

    COUNTER = "counter"
    GAUGE = "gauge"
    RATE = "rate"
    TREND = "trend"

    def __str__(self) -> str:
        return self.value


class ValueType(str, Enum):
    """What a metric's values mean (``contains``): drives summary formatting."""

    DEFAULT = "default"
    TIME = "time"
    DATA = "data"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Metric:
    """An immutable metric definition."""

    name: str
    type: MetricType
    contains: ValueType = ValueType.DEFAULT


#: Built-ins pre-registered in every registry, in k6's registration order.
BUILTIN_METRICS: tuple[tuple[str, MetricType, ValueType], ...] = (
    ("vus", MetricType.GAUGE, ValueType.DEFAULT),
    ("vus_max", MetricType.GAUGE, ValueType.DEFAULT),
    ("iterations", MetricType.COUNTER, ValueType.DEFAULT),
    ("iteration_duration", MetricType.TREND, ValueType.TIME),
    ("dropped_iterations", MetricType.COUNTER, ValueType.DEFAULT),
    ("checks", MetricType.RATE, ValueType.DEFAULT),
    ("group_duration", MetricType.TREND, ValueType.TIME),
    ("data_sent", MetricType.COUNTER, ValueType.DATA),
    ("data_received", MetricType.COUNTER, ValueType.DATA),
    ("ws_connecting", MetricType.TREND, ValueType.TIME),
    ("ws_session_duration", MetricType.TREND, ValueType.TIME),
    ("ws_sessions", MetricType.COUNTER, ValueType.DEFAULT),
    ("ws_msgs_sent", MetricType.COUNTER, ValueType.DEFAULT),
    ("ws_msgs_received", MetricType.COUNTER, ValueType.DEFAULT),
    ("ws_ping", MetricType.TREND, ValueType.TIME),
)

# k6 ≥ v0.48: 2..129 characters in total, although the message says 128 (observed).
_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]{1,128}\Z")


def validate_metric_name(name: str) -> None:
    """Raise ``MetricError`` with k6's exact text for an invalid custom metric name."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise MetricError(
            f"Invalid metric name: '{name}'. Metric names must only include up to 128 ASCII "
            "letters, numbers, or underscores and start with a letter or an underscore."
        )


class Registry:
    """All metric definitions of one test run, built-ins included."""

    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        for name, mtype, contains in BUILTIN_METRICS:
            self._metrics[name] = Metric(name, mtype, contains)

    def define(self, name: str, mtype: MetricType | str,
               contains: ValueType | str = ValueType.DEFAULT) -> Metric:
        """Define (or fetch) a metric, like ``new Trend(name, isTime)`` does.

        Re-defining with the same type and value type returns the existing metric;
        any difference raises k6's duplicate-definition error. Built-ins count too.
        """
        mtype = MetricType(mtype)
        contains = ValueType(contains)
        existing = self._metrics.get(name)
        if existing is None:
            validate_metric_name(name)
            metric = Metric(name, mtype, contains)
            self._metrics[name] = metric
            return metric
        if existing.type is not mtype:
            raise MetricError(
                f"metric '{name}' already exists but with type {existing.type.value}, "
                f"instead of {mtype.value}")
        if existing.contains is not contains:
            raise MetricError(
                f"metric '{name}' already exists but with a value type "
                f"{existing.contains.value}, instead of {contains.value}")
        return existing

    def get(self, name: str) -> Metric | None:
        """The definition of ``name`` or ``None``."""
        return self._metrics.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._metrics

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._metrics.values())

    def __len__(self) -> int:
        return len(self._metrics)

    def snapshot(self) -> list[list[str]]:
        """JSON-able list of ``[name, type, contains]`` (for multi-process merging)."""
        return [[m.name, m.type.value, m.contains.value] for m in self._metrics.values()]

    def merge(self, snap: list[list[str]]) -> None:
        """Add the definitions of another registry's ``snapshot()`` (conflicts raise)."""
        for name, mtype, contains in snap:
            if name not in self._metrics:
                self._metrics[name] = Metric(name, MetricType(mtype), ValueType(contains))
            else:
                self.define(name, mtype, contains)


class MetricTagError(MetricError):
    """A non-primitive tag or metadata value; thrown into JS as a ``TypeError``."""

    js_type = "TypeError"


def tag_value_to_string(key: str, value: object, *, what: str = "tag") -> str:
    """Convert a JS tag value (str/bool/number) to k6's string form or raise.

    ``what="metadata"`` gives the metadata variant of the message
    (``exec.vu.metrics.metadata``).
    """
    from jsrunner.metrics.format import js_number

    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return js_number(value)
    if what == "metadata":
        raise MetricTagError(
            f"invalid value for metric metadata '{key}': only String, Boolean and Number "
            "types are accepted as a metric metadata value")
    raise MetricTagError(
        f"invalid value for metric tag '{key}': only String, Boolean and Number types "
        "are accepted as a metric tag values")


def validate_tags(metric_name: str, tags: dict[str, object]) -> dict[str, str]:
    """Tags of ``metric.add(v, tags)``: stringify or raise k6's custom-metric error."""
    out: dict[str, str] = {}
    for k, v in tags.items():
        try:
            out[k] = tag_value_to_string(k, v)
        except MetricTagError as e:
            raise MetricError(
                f"cannot add tags for the '{metric_name}' custom metric: {e.message}") from None
    return out
