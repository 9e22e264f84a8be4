"""Metric definitions: name rule, duplicates, built-ins, tag values (runtime.md §9)."""

from __future__ import annotations

import pytest

from jsrunner.errors import MetricError
from jsrunner.metrics.registry import (
    BUILTIN_METRICS, MetricTagError, MetricType, Registry, ValueType, tag_value_to_string,
    validate_tags,
)

NAME_MSG = ("Invalid metric name: '{}'. Metric names must only include up to 128 ASCII letters, "
            "numbers, or underscores and start with a letter or an underscore.")


def test_builtins_preregistered():
    r = Registry()
    expected = {
        "iterations": ("counter", "default"), "iteration_duration": ("trend", "time"),
        "vus": ("gauge", "default"), "vus_max": ("gauge", "default"), "checks": ("rate", "default"),
        "group_duration": ("trend", "time"), "data_sent": ("counter", "data"),
        "data_received": ("counter", "data"), "dropped_iterations": ("counter", "default"),
        "ws_connecting": ("trend", "time"), "ws_session_duration": ("trend", "time"),
        "ws_sessions": ("counter", "default"), "ws_msgs_sent": ("counter", "default"),
        "ws_msgs_received": ("counter", "default"), "ws_ping": ("trend", "time"),
    }
    got = {m.name: (m.type.value, m.contains.value) for m in r}
    assert got == expected
    assert len(BUILTIN_METRICS) == 15


@pytest.mark.parametrize("name", ["a", "1ab", "a-b", "ä_b", "", "a" * 130, "a b"])
def test_invalid_names(name):
    with pytest.raises(MetricError) as ei:
        Registry().define(name, "counter")
    assert ei.value.message == NAME_MSG.format(name)


@pytest.mark.parametrize("name", ["ab", "_a", "a" * 129, "A_1", "__"])
def test_valid_names(name):
    m = Registry().define(name, "trend", "time")
    assert (m.name, m.type, m.contains) == (name, MetricType.TREND, ValueType.TIME)


def test_redefinition():
    r = Registry()
    m = r.define("xx", "trend", "time")
    assert r.define("xx", MetricType.TREND, ValueType.TIME) is m
    with pytest.raises(MetricError) as ei:
        r.define("xx", "trend")
    assert ei.value.message == "metric 'xx' already exists but with a value type time, instead of default"
    r.define("yy", "trend")
    with pytest.raises(MetricError) as ei:
        r.define("yy", "trend", "time")
    assert ei.value.message == "metric 'yy' already exists but with a value type default, instead of time"
    with pytest.raises(MetricError) as ei:
        r.define("xx", "counter", "time")
    assert ei.value.message == "metric 'xx' already exists but with type trend, instead of counter"
    with pytest.raises(MetricError) as ei:
        r.define("iterations", "trend")
    assert ei.value.message == "metric 'iterations' already exists but with type counter, instead of trend"
    assert r.define("checks", "rate").name == "checks"


def test_tag_values():
    assert tag_value_to_string("n", 5) == "5"
    assert tag_value_to_string("n", 5.0) == "5"
    assert tag_value_to_string("n", 1.5) == "1.5"
    assert tag_value_to_string("b", True) == "true"
    assert tag_value_to_string("s", "x") == "x"
    with pytest.raises(MetricTagError) as ei:
        tag_value_to_string("k", {"a": 1})
    assert ei.value.message == ("invalid value for metric tag 'k': only String, Boolean and Number "
                                "types are accepted as a metric tag values")
    assert ei.value.js_type == "TypeError"
    with pytest.raises(MetricTagError) as ei:
        tag_value_to_string("trace", [1], what="metadata")
    assert ei.value.message == ("invalid value for metric metadata 'trace': only String, Boolean and "
                                "Number types are accepted as a metric metadata value")


def test_validate_custom_metric_tags():
    assert validate_tags("my_c", {"a": 1, "b": False}) == {"a": "1", "b": "false"}
    with pytest.raises(MetricError) as ei:
        validate_tags("my_c", {"k": None})
    assert ei.value.message == ("cannot add tags for the 'my_c' custom metric: invalid value for metric "
                                "tag 'k': only String, Boolean and Number types are accepted as a metric "
                                "tag values")


def test_registry_snapshot_merge():
    a, b = Registry(), Registry()
    a.define("xx", "counter")
    b.merge(a.snapshot())
    assert b.get("xx").type is MetricType.COUNTER
    c = Registry()
    c.define("xx", "gauge")
    with pytest.raises(MetricError):
        c.merge(a.snapshot())
