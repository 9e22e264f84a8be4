"""Threshold grammar, k6's exact error texts (exit 104), evaluation and zero-sample rules."""

from __future__ import annotations

import pytest

from jsrunner.errors import ConfigError
from jsrunner.metrics.engine import MetricsEngine
from jsrunner.metrics.registry import Registry
from jsrunner.metrics.sinks import CounterSink, GaugeSink, RateSink, TrendSink
from jsrunner.metrics.thresholds import (
    abort_message, crossed_message, parse_expression, parse_go_float, parse_metric_key,
    parse_thresholds_config, run_thresholds, submetric_tags, validate_thresholds,
)


def _err(fn, *a, **kw) -> ConfigError:
    with pytest.raises(ConfigError) as ei:
        fn(*a, **kw)
    assert ei.value.exit_code == 104
    return ei.value


@pytest.mark.parametrize("src,method,pct,op,value", [
    ("p(95)<200", "p", 95.0, "<", 200.0),
    ("avg  <=  1", "avg", None, "<=", 1.0),
    ("  count>1e3  ", "count", None, ">", 1000.0),
    ("rate>=-1", "rate", None, ">=", -1.0),
    ("value==0.5", "value", None, "==", 0.5),
    ("med===2", "med", None, "===", 2.0),
    ("max!=3", "max", None, "!=", 3.0),
    ("p(99.9)>.5", "p", 99.9, ">", 0.5),
    ("min<+Inf", "min", None, "<", float("inf")),
])
def test_parse_expressions(src, method, pct, op, value):
    t = parse_expression(src)
    assert (t.method, t.percentile, t.operator, t.value) == (method, pct, op, value)
    assert t.source == src.strip()


@pytest.mark.parametrize("src,msg", [
    ("avg = 1", 'failed parsing threshold expression "avg = 1"; reason: malformed threshold expression'),
    ("count ~ 1", 'failed parsing threshold expression "count ~ 1"; reason: malformed threshold expression'),
    ("", 'failed parsing threshold expression ""; reason: malformed threshold expression'),
    ("count <<< 1", "failed parsing threshold expresion's \"count <<< 1\" right hand side; "
                    "reason: strconv.ParseFloat: parsing \"<< 1\": invalid syntax"),
    ("count>0x10", "failed parsing threshold expresion's \"count>0x10\" right hand side; "
                   "reason: strconv.ParseFloat: parsing \"0x10\": invalid syntax"),
    ("count>1e400", "failed parsing threshold expresion's \"count>1e400\" right hand side; "
                    "reason: strconv.ParseFloat: parsing \"1e400\": value out of range"),
    ("foo>1", "failed parsing threshold expression's \"foo>1\" left hand side; "
              "reason: failed parsing method from expression"),
    ("p( 50 ) < 1", "failed parsing threshold expression's \"p( 50 ) < 1\" left hand side; "
                    "reason: malformed percentile value; reason: strconv.ParseFloat: parsing \" 50 \": "
                    "invalid syntax"),
])
def test_parse_errors(src, msg):
    assert _err(parse_expression, src).message == msg


def test_go_parse_float():
    assert parse_go_float("1e3") == 1000
    assert parse_go_float("-1") == -1
    assert parse_go_float("0x1p4") == 16
    assert parse_go_float("1.") == 1
    for bad in ("0x10", "1_0", " 1", "1e", "abc", ""):
        with pytest.raises(ValueError):
            parse_go_float(bad)


def test_config_shapes():
    parsed = parse_thresholds_config({
        "a": ["count>1", {"threshold": "rate>0.5", "abortOnFail": True, "delayAbortEval": "10s"}],
        "b": [{"threshold": "avg<1", "delayAbortEval": 1500}],
    })
    assert [t.source for t in parsed["a"]] == ["count>1", "rate>0.5"]
    assert parsed["a"][1].abort_on_fail and parsed["a"][1].delay_abort_eval_ms == 10000
    assert parsed["b"][0].delay_abort_eval_ms == 1500 and not parsed["b"][0].abort_on_fail
    assert _err(parse_thresholds_config, {"iterations": "count>1"}).message == (
        "json: cannot unmarshal string into Go struct field Options.thresholds of type "
        "[]metrics.thresholdConfig")
    assert _err(parse_thresholds_config, {"i": [{"threshold": "count>1", "abortOnFail": "x"}]}).message == (
        "json: cannot unmarshal string into Go struct field Options.thresholds.abortOnFail of type bool")
    assert _err(parse_thresholds_config, {"i": [5]}).message == (
        "json: cannot unmarshal number into Go struct field Options.thresholds of type "
        "metrics.rawThresholdConfig")
    assert _err(parse_thresholds_config, {"i": [{"threshold": 5}]}).message == (
        "json: cannot unmarshal number into Go struct field Options.thresholds.threshold of type string")
    assert _err(parse_thresholds_config, {"i": [{"abortOnFail": True}]}).message == (
        'failed parsing threshold expression ""; reason: malformed threshold expression')
    assert _err(parse_thresholds_config, {"i": [{"threshold": "count>1", "delayAbortEval": "abc"}]}
                ).message == 'time: invalid duration "abc"'


PFX = "unable to validate threshold expressions; reason: parsing metric name failed, "


@pytest.mark.parametrize("key,msg", [
    ("my_c{a", PFX + 'metric "my_c{a" has unmatched opening/close curly brace'),
    ("my_c}", PFX + 'metric "my_c}" has unmatched opening/close curly brace'),
    ("a}b{", PFX + 'metric "a}b{" closing curly brace appears before opening one'),
    ("iterations{a:b} ", PFX + 'metric "iterations{a:b} " lacks a closing curly brace in its last position'),
    ("iterations{a}", PFX + 'metric "a" tag expression is malformed'),
    ("iterations{}", PFX + 'metric "" tag expression is malformed'),
    ("iterations{a:}", PFX + 'metric "a:" tag expression is malformed'),
])
def test_metric_key_errors(key, msg):
    assert _err(parse_metric_key, key).message == msg


def test_metric_key_and_submetric_normalisation():
    assert parse_metric_key("my_c{ a : \"b\" ,c:d}") == ("my_c", ['a : "b"', "c:d"])
    assert submetric_tags(' a : "b" ') == ('a : "b"', {"a": "b"})
    assert submetric_tags("a:'b'") == ("a:'b'", {"a": "b"})
    assert submetric_tags("a:b,c") == ("a:b,c", {"a": "b", "c": ""})


def test_validation_errors():
    r = Registry()
    r.define("my_t", "trend")
    assert _err(validate_thresholds, {"nosuch": []}, r).message == (
        'invalid threshold defined on nosuch; reason: no metric name "nosuch" found')
    assert _err(validate_thresholds, {"iterations {a:b}": []}, r).message == (
        'invalid threshold defined on iterations {a:b}; reason: no metric name "iterations {a:b}" found')
    ths = parse_thresholds_config({"iterations": ["p(95)<1"]})
    assert _err(validate_thresholds, ths, r).message == (
        'invalid threshold "p(95)<1" applied on metric iterations; reason: unsupported aggregation '
        "method p on metric of type counter. supported aggregation methods for this metric are: count, rate")
    for key, expr, typ, sup in (("my_t", "count>0", "trend", "avg, min, max, med, p"),
                                ("vus", "rate>0", "gauge", "value"),
                                ("checks", "count>0", "rate", "rate")):
        msg = _err(validate_thresholds, parse_thresholds_config({key: [expr]}), r).message
        assert msg == (f'invalid threshold "{expr}" applied on metric {key}; reason: unsupported '
                       f"aggregation method {expr[:expr.index('>')]} on metric of type {typ}. "
                       f"supported aggregation methods for this metric are: {sup}")


def _sink(kind, values):
    s = {"counter": CounterSink, "gauge": GaugeSink, "rate": RateSink, "trend": TrendSink}[kind]()
    for v in values:
        s.add(v)
    return s


@pytest.mark.parametrize("kind,values,expr,passed", [
    ("counter", [1, 2], "count==3", True), ("counter", [1, 2], "count===3", True),
    ("counter", [1, 2], "count!=3", False), ("counter", [1, 2], "rate>=1.5", True),
    ("counter", [1, 2], "rate>1.5", False), ("gauge", [5, 2], "value<3", True),
    ("gauge", [5, 2], "value<=1", False), ("rate", [1, 0, 1, 1], "rate>=0.75", True),
    ("rate", [1, 0], "rate>0.5", False), ("trend", [1, 2, 3, 4, 10], "avg==4", True),
    ("trend", [1, 2, 3, 4, 10], "med==3", True), ("trend", [1, 2, 3, 4, 10], "min>1", False),
    ("trend", [1, 2, 3, 4, 10], "max>=10", True), ("trend", [1, 2, 3, 4, 10], "p(90)<7.61", True),
    ("trend", [1, 2, 3, 4, 10], "p(90)<7.6", False), ("trend", [1, 2, 3], "p(101)==3", True),
    ("trend", [1, 2, 3], "p(-1)==1", True), ("trend", [7], "p(101)==7", True),
])
def test_evaluation_operators(kind, values, expr, passed):
    t = parse_expression(expr)
    ok, abort = run_thresholds([t], _sink(kind, values), 2000.0)
    assert ok is passed and t.last_failed is (not passed) and abort is False


@pytest.mark.parametrize("kind,expr,passed", [
    ("counter", "count>0", False), ("counter", "count<1", True), ("counter", "rate<1", True),
    ("gauge", "value>0", False), ("gauge", "value==0", True),
    ("trend", "avg>1", False), ("trend", "avg<1", True), ("trend", "p(95)==0", True),
    ("rate", "rate<0.5", True), ("rate", "rate>0.5", True), ("rate", "rate==1", True),
])
def test_zero_sample_rules(kind, expr, passed):
    ok, _ = run_thresholds([parse_expression(expr)], _sink(kind, []), 1000.0)
    assert ok is passed


def test_abort_on_fail_and_delay():
    def th():
        return parse_thresholds_config({"x": [{"threshold": "count>5", "abortOnFail": True,
                                               "delayAbortEval": "10s"}]})["x"]
    sink = _sink("counter", [1])
    assert run_thresholds(th(), sink, 5000.0) == (False, False)
    assert run_thresholds(th(), sink, 10000.0) == (False, False)  # strictly greater needed
    assert run_thresholds(th(), sink, 10001.0) == (False, True)
    no_delay = parse_thresholds_config({"x": [{"threshold": "count>5", "abortOnFail": True}]})["x"]
    assert run_thresholds(no_delay, sink, 1.0) == (False, True)
    plain = parse_thresholds_config({"x": ["count>5"]})["x"]
    assert run_thresholds(plain, sink, 1.0) == (False, False)


def test_engine_threshold_flow_and_messages():
    e = MetricsEngine()
    e.registry.define("my_rate", "rate")
    e.registry.define("my_t", "trend")
    e.registry.define("errs", "counter")
    e.configure_thresholds({
        "my_rate": ["rate>0.9"],
        "my_t{k:v}": ["avg<1"],
        "errs": [{"threshold": "count<1", "abortOnFail": True}],
        "checks": ["rate>0"],
    })
    periodic = e.evaluate_thresholds(500.0, periodic=True)
    assert periodic.crossed == [] and not periodic.abort  # empty sinks skipped
    e.ingest([("my_rate", 1, 0.0, {}, None), ("my_t", 2, 5.0, {"k": "v"}, None),
              ("errs", 3, 1.0, {}, None)])
    periodic = e.evaluate_thresholds(2000.0, periodic=True)
    assert periodic.crossed == ["errs", "my_rate", "my_t{k:v}"]
    assert periodic.abort and periodic.aborting == ["errs"]
    final = e.evaluate_thresholds(3000.0)
    assert final.crossed == ["errs", "my_rate", "my_t{k:v}"]  # checks: Rate without samples passes
    assert crossed_message(final.crossed) == (
        "thresholds on metrics 'errs, my_rate, my_t{k:v}' have been crossed")
    assert crossed_message(["u_t", "U_c", "u_g"]) == "thresholds on metrics 'U_c, u_g, u_t' have been crossed"
    assert abort_message(["errs"]) == ("thresholds on metrics 'errs' were crossed; at least one has "
                                       "abortOnFail enabled, stopping test prematurely")
