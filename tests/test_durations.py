"""Go-style durations (runner.md §1): parsing, Go error texts, Duration.String()."""

import random

import pytest

from jsrunner.durations import (HOUR, MICROSECOND, MILLISECOND, MINUTE, SECOND, DurationError,
                                format_duration, from_seconds, parse_go_duration,
                                parse_json_duration, parse_k6_duration, round_duration,
                                to_seconds)


@pytest.mark.parametrize("text,ns", [
    ("1m30s", 90 * SECOND),
    ("500ms", 500 * MILLISECOND),
    ("1.5s", 1500 * MILLISECOND),
    ("2h", 2 * HOUR),
    ("1us", MICROSECOND),
    ("1µs", MICROSECOND),
    ("1μs", MICROSECOND),
    ("7ns", 7),
    ("-1.5h", -90 * MINUTE),
    ("+1s", SECOND),
    ("0", 0),
    ("-0", 0),
    (".5s", 500 * MILLISECOND),
    ("1.s", SECOND),
    ("1ns500ms", 500 * MILLISECOND + 1),
    ("1h2m3s", HOUR + 2 * MINUTE + 3 * SECOND),
    ("0.000000001s", 1),
    ("2562047h47m16.854775807s", (1 << 63) - 1),
])
def test_parse_go_duration(text, ns):
    assert parse_go_duration(text) == ns


@pytest.mark.parametrize("text,message", [
    ("abc", 'time: invalid duration "abc"'),
    ("", 'time: invalid duration ""'),
    ("s", 'time: invalid duration "s"'),
    ("-", 'time: invalid duration "-"'),
    (".s", 'time: invalid duration ".s"'),
    ("1", 'time: missing unit in duration "1"'),
    ("1500", 'time: missing unit in duration "1500"'),
    ("1.5.5s", 'time: missing unit in duration "1.5.5s"'),
    ("1x", 'time: unknown unit "x" in duration "1x"'),
    ("1d", 'time: unknown unit "d" in duration "1d"'),
    ("1h-2m", 'time: unknown unit "h-" in duration "1h-2m"'),
    ("1s ", 'time: unknown unit "s " in duration "1s "'),
    (" 1s", 'time: invalid duration " 1s"'),
    ("1µx", 'time: unknown unit "\\xc2\\xb5x" in duration "1\\xc2\\xb5x"'),
    ("2562047h47m16.854775808s", 'time: invalid duration "2562047h47m16.854775808s"'),
    ("9999999999h", 'time: invalid duration "9999999999h"'),
])
def test_parse_go_duration_errors(text, message):
    with pytest.raises(DurationError) as ei:
        parse_go_duration(text)
    assert str(ei.value) == message
    assert isinstance(ei.value, ValueError)


@pytest.mark.parametrize("text,ns", [
    ("1500", 1500 * MILLISECOND),     # bare number = ms (env vars, -s stages)
    ("1.5", 1500 * MICROSECOND),
    ("1e3", SECOND),
    ("1d", 24 * HOUR),
    ("1d2h", 26 * HOUR),
    ("-1d", -24 * HOUR),
    ("90s", 90 * SECOND),
])
def test_parse_k6_extended_duration(text, ns):
    assert parse_k6_duration(text) == ns


@pytest.mark.parametrize("text,message", [
    ("abc", 'time: invalid duration "abc"'),
    ("1d-2h", "invalid time format '-2h'"),
    ("x1d", 'strconv.ParseInt: parsing "x1": invalid syntax'),
])
def test_parse_k6_duration_errors(text, message):
    with pytest.raises(DurationError, match="^" + __import__("re").escape(message) + "$"):
        parse_k6_duration(text)


@pytest.mark.parametrize("value,ns", [
    (1500, 1500 * MILLISECOND),        # `duration: 1500` → banner 1.5s
    (1.5, 1500 * MICROSECOND),
    (0, 0),
    ("1m", MINUTE),
    ("1500", 1500 * MILLISECOND),
])
def test_parse_json_duration(value, ns):
    assert parse_json_duration(value) == ns


@pytest.mark.parametrize("value,message", [
    (True, "'true' is not a valid duration value"),
    ({}, "'{}' is not a valid duration value"),
    ([1], "'[1]' is not a valid duration value"),
    ("abc", 'time: invalid duration "abc"'),
])
def test_parse_json_duration_errors(value, message):
    with pytest.raises(DurationError) as ei:
        parse_json_duration(value)
    assert str(ei.value) == message


@pytest.mark.parametrize("ns,text", [
    (10 * MINUTE, "10m0s"),
    (1500 * MILLISECOND, "1.5s"),
    (500 * MILLISECOND, "500ms"),
    (0, "0s"),
    (HOUR + 2 * MINUTE + 3 * SECOND, "1h2m3s"),
    (2 * HOUR, "2h0m0s"),
    (MICROSECOND, "1µs"),
    (1, "1ns"),
    (1500, "1.5µs"),
    (500 * MILLISECOND + 1, "500.000001ms"),
    (-1500 * MILLISECOND, "-1.5s"),
    (3500 * MILLISECOND, "3.5s"),
    (90 * SECOND, "1m30s"),
    (30 * SECOND + 100 * MILLISECOND, "30.1s"),
    ((1 << 63) - 1, "2562047h47m16.854775807s"),
])
def test_format_duration(ns, text):
    assert format_duration(ns) == text


def test_round_trip_property():
    rng = random.Random(1234)
    samples = [0, 1, 999, 1000, 10 ** 6, 10 ** 9, 3600 * 10 ** 9]
    samples += [rng.randrange(-10 ** 15, 10 ** 15) for _ in range(2000)]
    samples += [rng.randrange(0, 1 << 63) for _ in range(200)]
    for ns in samples:
        text = format_duration(ns)
        assert parse_go_duration(text) == ns, text
        assert parse_k6_duration(text) == ns, text


def test_round_duration_like_go():
    r = 100 * MILLISECOND
    assert round_duration(350 * MILLISECOND, r) == 400 * MILLISECOND  # half away from zero
    assert round_duration(349 * MILLISECOND, r) == 300 * MILLISECOND
    assert round_duration(-350 * MILLISECOND, r) == -400 * MILLISECOND
    assert round_duration(-340 * MILLISECOND, r) == -300 * MILLISECOND
    assert round_duration(123, 0) == 123


def test_seconds_conversions():
    assert to_seconds(1500 * MILLISECOND) == 1.5
    assert from_seconds(1.5) == 1500 * MILLISECOND
