"""End-of-test summary text, compared character for character with k6 output."""

from __future__ import annotations

import pytest

from jsrunner.errors import CommandLineError
from jsrunner.metrics.engine import MetricsEngine
from jsrunner.metrics.summary import (
    SummaryOptions, block_of, render_summary, validate_summary_mode, validate_time_unit,
    validate_trend_stats,
)
from tests.metrics.fixtures import (
    SPEC_EXAMPLE_DURATION_MS, T1_TREND_STATS, read_data, spec_example_engine, t1_engine,
)

# runner.md §8.1: the summary part of the real k6 compact example (after the banner)
SPEC_COMPACT_LINES = [
    '  █ THRESHOLDS ',
    '',
    '    checks',
    "    ✓ 'rate>0.5' rate=66.66%",
    '',
    '    my_counter{tag:a}',
    "    ✓ 'count>=2' count=4",
    '',
    '    my_rate',
    "    ✗ 'rate>0.9' rate=50.00%",
    '',
    '    my_trend',
    "    ✓ 'p(95)<200' p(95)=60",
    "    ✓ 'avg<100' avg=55",
    '',
    '    ws_connecting',
    "    ✓ 'p(90)<1000' p(90)=4.04ms",
    '',
    '',
    '  █ TOTAL RESULTS ',
    '',
    '    checks_total.......................: 12     1140.620657/s',
    '    checks_succeeded...................: 66.66% 8 out of 12',
    '    checks_failed......................: 33.33% 4 out of 12',
    '',
    '    ✓ is one',
    '    ✗ is two',
    '      ↳  0% — ✓ 0 / ✗ 4',
    '    ✓ nested check',
    '',
    '    CUSTOM',
    '    my_counter...............................: 12     1140.620657/s',
    '      { tag:a }..............................: 4      380.206886/s',
    '    my_gauge.................................: 6      min=5         max=6',
    '    my_rate..................................: 50.00% 2 out of 4',
    '    my_time_trend............................: avg=1.23s  min=1.23s  med=1.23s  max=1.23s  p(90)=1.23s  p(95)=1.23s ',
    '    my_trend.................................: avg=55     min=50     med=55     max=60     p(90)=60     p(95)=60    ',
    '',
    '    EXECUTION',
    '    iteration_duration.......................: avg=4.96ms min=2.8ms  med=4.88ms max=7.28ms p(90)=6.71ms p(95)=7ms   ',
    '    iterations...............................: 4      380.206886/s',
    '',
    '    NETWORK',
    '    data_received............................: 840 B  80 kB/s',
    '    data_sent................................: 808 B  77 kB/s',
    '',
    '    WEBSOCKET',
    '    ws_connecting............................: avg=2.97ms min=1.66ms med=2.9ms  max=4.42ms p(90)=4.04ms p(95)=4.23ms',
    '    ws_msgs_received.........................: 4      380.206886/s',
    '    ws_msgs_sent.............................: 8      760.413772/s',
    '    ws_session_duration......................: avg=4.39ms min=2.54ms med=4.14ms max=6.73ms p(90)=5.96ms p(95)=6.34ms',
    '    ws_sessions..............................: 4      380.206886/s',
]
SPEC_COMPACT = "\n\n" + "\n".join(SPEC_COMPACT_LINES) + "\n\n\n\n"


def _render(e: MetricsEngine, duration: float, **kw) -> str:
    e.evaluate_thresholds(duration)
    return render_summary(e, duration, SummaryOptions(**kw))


def test_spec_compact_example_exact():
    e = spec_example_engine()
    out = _render(e, SPEC_EXAMPLE_DURATION_MS)
    assert out == SPEC_COMPACT


def test_spec_example_alignment_rules():
    out = _render(spec_example_engine(), SPEC_EXAMPLE_DURATION_MS)
    lines = out.split("\n")
    # ws_session_duration (19 + 19) gives L = 38 → every ':' of the metric blocks in one column
    metric_lines = [ln for ln in lines if "....:" in ln and not ln.lstrip().startswith("checks_")]
    cols = {ln.index(".:") for ln in metric_lines}
    assert len(cols) == 1
    assert "    iterations" + "." * 31 + ": 4      380.206886/s" in lines
    assert "    checks_total" + "." * 23 + ": 12     1140.620657/s" in lines
    assert "      { tag:a }" + "." * (38 + 3 - 11) + ": 4      380.206886/s" in lines


@pytest.mark.parametrize("mode", ["compact", "full", "legacy"])
def test_real_k6_t1_outputs(mode):
    e, duration = t1_engine(mode)
    out = render_summary(e, duration, SummaryOptions(trend_stats=T1_TREND_STATS, mode=mode))
    assert out == read_data(f"k6_{mode}_t1.txt")


def test_full_mode_scenario_sections_and_nesting():
    e = MetricsEngine(track_groups=True)
    e.registry.define("my_counter", "counter")
    t = 0
    samples = []
    for scen in ("zeta", "alpha", "default"):
        for group, check, ok in (("::g2", "c", 1), ("::g2::inner", "same", 0), ("::g2::inner", "same", 0)):
            t += 1
            samples.append(("checks", t, float(ok), {"scenario": scen, "group": group, "check": check}, None))
        samples.append(("my_counter", t, 2.0, {"scenario": scen, "group": "::g2::inner"}, None))
    e.ingest(samples)
    out = render_summary(e, 1000.0, SummaryOptions(mode="full"))
    lines = out.split("\n")
    titles = [ln for ln in lines if "GROUP:" in ln or "SCENARIO:" in ln]
    assert titles == ["  █ GROUP: g2 ", "    ↳ GROUP: inner ",
                      "  █ SCENARIO: alpha ", "    ↳ GROUP: g2 ", "      ↳ GROUP: inner ",
                      "  █ SCENARIO: zeta ", "    ↳ GROUP: g2 ", "      ↳ GROUP: inner "]
    zeta = lines[lines.index("  █ SCENARIO: zeta "):]
    assert zeta[2] == "    checks_total.......................: 3      3/s"
    assert "        ✗ same" in zeta
    assert "              ↳  0% — ✓ 0 / ✗ 2" in zeta
    assert "        CUSTOM" in zeta
    assert "        my_counter.............: 2 2/s" in zeta
    # scenario-level metrics include every group of the scenario
    assert "    my_counter.............: 2 2/s" in zeta


def test_empty_run_only_total_results():
    e = MetricsEngine()
    assert render_summary(e, 1000.0) == "\n\n  █ TOTAL RESULTS \n\n\n\n"


def test_threshold_only_metrics_with_zero_values():
    e = MetricsEngine()
    for name, mt in (("u_c", "counter"), ("u_g", "gauge"), ("u_r", "rate"), ("u_t", "trend")):
        e.registry.define(name, mt)
    e.configure_thresholds({"u_c": ["count>0"], "u_g": ["value>0"], "u_r": ["rate>0.5"],
                            "u_t": ["avg>1", "avg<1"]})
    res = e.evaluate_thresholds(1000.0)
    assert res.crossed == ["u_c", "u_g", "u_t"]
    out = render_summary(e, 1000.0)
    assert "    u_c......: 0     0/s" in out
    assert "    u_g......: 0     min=0      max=0" in out  # min= padded to the "0/s" extra
    assert "    u_r......: 0.00% 0 out of 0" in out
    assert "    u_t......: avg=0 min=0 med=0 max=0 p(90)=0 p(95)=0" in out
    assert "    ✓ 'rate>0.5' rate=0.00%" in out
    assert "    ✗ 'avg>1' avg=0" in out
    assert "    ✓ 'avg<1' avg=0" in out


def test_no_thresholds_hides_section():
    e = spec_example_engine()
    out = _render(e, SPEC_EXAMPLE_DURATION_MS, no_thresholds=True)
    assert "THRESHOLDS" not in out
    assert out.startswith("\n\n  █ TOTAL RESULTS \n")


def test_time_unit_and_count_stat():
    e = spec_example_engine()
    out = _render(e, SPEC_EXAMPLE_DURATION_MS, time_unit="us",
                  trend_stats=["avg", "p(99.9)", "count"])
    assert ("    iteration_duration.......................: avg=4965.00µs    p(99.9)=7279.32µs    "
            "count=4" in out)
    assert "    my_time_trend............................: avg=1234000.00µs p(99.9)=1234000.00µs count=4" in out
    assert "    my_trend.................................: avg=55           p(99.9)=60           count=8" in out
    assert "    ✓ 'p(90)<1000' p(90)=4042.50µs" in out
    assert "    ✓ 'p(95)<200' p(95)=60" in out  # percentile not among the stats: computed


def test_sub_metric_threshold_nested_under_parent_with_thresholds():
    e = MetricsEngine()
    e.registry.define("ab", "counter")
    e.configure_thresholds({"ab": ["count>0"], "ab{t:b}": ["count>0"], "ab{t:a}": ["count>=0"]})
    e.ingest([("ab", 1, 1.0, {"t": "a"}, None)])
    out = _render(e, 1000.0)
    th = out.split("  █ TOTAL RESULTS")[0]
    assert th.split("\n") == [
        "", "", "  █ THRESHOLDS ", "", "    ab", "    ✓ 'count>0' count=1", "",
        "      {t:a}", "      ✓ 'count>=0' count=1", "",
        "      {t:b}", "      ✗ 'count>0' count=0", "", "", ""]


def test_colors():
    e = spec_example_engine()
    out = _render(e, SPEC_EXAMPLE_DURATION_MS, colors=True)
    assert "  █ \x1b[1mTHRESHOLDS\x1b[0m \n" in out
    assert ("    \x1b[31m✗\x1b[0m \x1b[37m'rate>0.9'\x1b[0m \x1b[37mrate\x1b[0m=\x1b[36m50.00%\x1b[0m"
            in out)
    assert "    \x1b[32m✓ is one\x1b[0m" in out
    assert "    \x1b[31m✗ is two\x1b[0m\n      \x1b[31m↳  0% — ✓ 0 / ✗ 4\x1b[0m" in out
    assert ("    my_gauge\x1b[2;37m.................................:\x1b[0m "
            "\x1b[36m6\x1b[0m      \x1b[2;36mmin=5\x1b[0m         \x1b[2;36mmax=6\x1b[0m" in out)
    # alignment ignores escape codes
    plain = _render(spec_example_engine(), SPEC_EXAMPLE_DURATION_MS)
    import re
    assert re.sub(r"\x1b\[[0-9;]*m", "", out) == plain


def test_legacy_seed_rate_format():
    e, duration = t1_engine("legacy")
    out = render_summary(e, duration, SummaryOptions(trend_stats=T1_TREND_STATS, mode="legacy",
                                                     legacy_rate_format="seed"))
    # seed: two extras, each padded like other multi-extra values (position 0 includes
    # the counters' rate strings, "14003.420335/s")
    assert "     checks...............: 55.55% ✓ 5            ✗ 4  " in out
    assert "   ✗ my_rate..............: 50.00% ✓ 2            ✗ 2  " in out
    assert "   ✗ my_gauge.............: -3     min=-5         max=0" in out


def test_block_classification():
    assert block_of("checks_x") is None
    assert block_of("group_duration") is None
    assert block_of("http_req_waiting") is None
    assert block_of("http_req_waiting", "full") == "HTTP"
    assert block_of("vus_custom") == "EXECUTION"
    assert block_of("iterations_x") == "EXECUTION"
    assert block_of("ws_custom") == "WEBSOCKET"
    assert block_of("browser_web_vital_lcp") == "WEB_VITALS"
    assert block_of("browser_x") == "BROWSER"
    assert block_of("grpc_req_duration") == "GRPC"
    assert block_of("data_sent") == "NETWORK"
    assert block_of("my_metric") == "CUSTOM"


def test_option_validation():
    assert validate_trend_stats(["avg", "p(0)", "p(100)", "p(99.9)", "count"]) == [
        "avg", "p(0)", "p(100)", "p(99.9)", "count"]
    with pytest.raises(CommandLineError) as ei:
        validate_trend_stats(["avg", "foo"])
    assert ei.value.message == "invalid trend stat 'foo', unknown format"
    assert ei.value.exit_code == 255
    for bad in ("p(101)", "p(abc)", "p(-1)"):
        with pytest.raises(CommandLineError) as ei:
            validate_trend_stats([bad])
        assert ei.value.message == (f"invalid percentile trend stat value '{bad}', "
                                    "provide a number between 0 and 100")
    with pytest.raises(CommandLineError) as ei:
        validate_summary_mode("bogus")
    assert ei.value.message == "invalid summary mode"
    with pytest.raises(CommandLineError) as ei:
        validate_time_unit("h")
    assert ei.value.message == "invalid summary time unit 'h', use 's', 'ms' or 'us'"
    assert validate_time_unit("us") == "us"
