"""Every number/time/data/percent example of runner.md §8.1.5 and the §8.1.4 order."""

from __future__ import annotations

import random

import pytest

from jsrunner.metrics.format import (
    fixed_no_trailing_zeros, format_percent, go_duration, humanize_bytes, humanize_duration,
    humanize_value, js_number, js_to_fixed, locale_compare_key, metric_sort_key,
)


@pytest.mark.parametrize("value,expected", [
    (1.23456789, "1.234568"), (1e-7, "0"), (1140.620657, "1140.620657"), (55, "55"),
    (2340.87, "2340.87"), (-3, "-3"), (0.5, "0.5"), (1e21, "1e+21"),
])
def test_plain_numbers(value, expected):
    assert fixed_no_trailing_zeros(value, 6) == expected
    assert humanize_value(value, "counter", "default") == expected


@pytest.mark.parametrize("value,expected", [(0.66666, "66.66%"), (1, "100.00%"), (0, "0.00%"),
                                            (0.5, "50.00%"), (0.6666666666666666, "66.66%")])
def test_rate_truncated(value, expected):
    assert format_percent(value) == expected
    assert humanize_value(value, "rate", "default") == expected


@pytest.mark.parametrize("value,expected", [
    (840, "840 B"), (1400, "1.4 kB"), (10000, "10 kB"), (109000, "109 kB"), (2000000, "2.0 MB"),
    (3.3333333333333335, "3.3333333333333335 B"), (0, "0 B"), (9.5, "9.5 B"),
    (79844.2, "80 kB"), (5e24, "5.0 YB"),
])
def test_data(value, expected):
    assert humanize_bytes(value) == expected
    assert humanize_value(value, "counter", "data") == expected


@pytest.mark.parametrize("ms,expected", [
    (0, "0s"), (0.0009, "900ns"), (0.0000005, "0ns"), (0.12345, "123.45µs"), (1.999, "1.99ms"),
    (999.99, "999.99ms"), (4.96, "4.96ms"), (7, "7ms"), (1000, "1s"), (1234, "1.23s"),
    (59999.999, "59.99s"), (60000, "1m0s"), (61500.5, "1m1s"), (3600000, "1h0m0s"),
    (3723000, "1h2m3s"), (172801000, "48h0m1s"),
])
def test_time_adaptive(ms, expected):
    assert humanize_duration(ms) == expected
    assert humanize_value(ms, "trend", "time") == expected


@pytest.mark.parametrize("ms,unit,expected", [
    (1.999, "ms", "2.00ms"), (0.123456, "ms", "0.12ms"), (1.999, "us", "1999.00µs"),
    (172801234, "ms", "172801234.00ms"), (0.123456, "us", "123.46µs"), (1234, "s", "1.23s"),
    (1235, "s", "1.24s"),
])
def test_time_fixed_unit(ms, unit, expected):
    assert humanize_duration(ms, unit) == expected


def test_js_number_and_to_fixed():
    assert [js_number(x) for x in (1e21, 1e20, 1e-7, 1e-6, 123.45, 5, 0.1 + 0.2, -0.5, 2.5e-10)] == [
        "1e+21", "100000000000000000000", "1e-7", "0.000001", "123.45", "5",
        "0.30000000000000004", "-0.5", "2.5e-10"]
    assert js_to_fixed(0.125, 2) == "0.13"  # JS rounds the exact tie away from zero
    assert js_to_fixed(1.005, 2) == "1.00"  # 1.005 is 1.00499999… as a double
    assert js_to_fixed(2.5, 0) == "3"


def test_go_duration():
    assert [go_duration(x) for x in (1500, 500, 600000, 0, 90000, 0.5, 3600000, 1)] == [
        "1.5s", "500ms", "10m0s", "0s", "1m30s", "500µs", "1h0m0s", "1ms"]


OBSERVED_ORDER = ["_x", "a_b", "a1", "a10", "a2", "ab", "ab{t:a}", "ab{t:b}", "aB", "Ab", "AB",
                  "ab_c", "abc", "X_", "x9", "xa", "Zz", "Zz{t:a}"]


def test_locale_order_observed_list():
    rnd = random.Random(7)
    for _ in range(20):
        names = OBSERVED_ORDER[:]
        rnd.shuffle(names)
        assert sorted(names, key=metric_sort_key) == OBSERVED_ORDER
    # a plain code-point sort is wrong
    assert sorted(OBSERVED_ORDER) != OBSERVED_ORDER


def test_locale_order_ascii_table_measured_on_k6():
    # k6: sorting 'a' + c + 'b' for every printable ASCII c with localeCompare
    expected = (" _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789"
                "aAbBcCdDeEfFgGhHiIjJkKlLmMnNoOpPqQrRsStTuUvVwWxXyYzZ")
    chars = [chr(i) for i in range(32, 127)]
    got = "".join(sorted(chars, key=lambda c: locale_compare_key("a" + c + "b")))
    assert got == expected


def test_locale_order_accents_and_prefixes():
    names = ["_x", "a", "A", "á", "ä", "a b", "a_b", "a-b", "a.b", "a0", "a00", "a01", "a1", "b",
             "e", "E", "é", "f"]
    shuffled = list(reversed(names))
    assert sorted(shuffled, key=locale_compare_key) == names
