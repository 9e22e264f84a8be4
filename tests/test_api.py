"""The Python API (jsrunner.run / jsrunner.api): results, numbers equal to the CLI's, typed errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import jsrunner
from jsrunner import api
from jsrunner.errors import ConfigError, ExitCode, JsRunnerError, ScriptError, ThresholdsFailed

from .helpers import run_cli, write_script

# One VU, fixed iterations, values that depend only on __ITER: every count, sum, min/max/avg
# and percentile is the same on every run (time-based metrics are not compared).
DETERMINISTIC = """
    import { check, group } from 'k6';
    import { Counter, Gauge, Rate, Trend } from 'k6/metrics';

    const things = new Counter('things');
    const level = new Gauge('level');
    const odd = new Rate('odd');
    const sizes = new Trend('sizes');

    export const options = {
      vus: 1,
      iterations: 7,
      thresholds: {
        things: ['count==28'],
        sizes: ['p(90)<100', 'max>300'],
        'things{kind:big}': ['count>0'],
      },
    };

    export default function () {
      const i = __ITER;
      things.add(i + 1, { kind: i > 4 ? 'big' : 'small' });
      level.add(i * 3);
      odd.add(i % 2 === 1);
      sizes.add(i * i * 10);
      group('outer', () => {
        check(i, { 'small iteration': (n) => n < 5 });
        group('inner', () => { check(i, { 'always': () => true }); });
      });
      check(i, { 'top level': (n) => n !== 3 });
      console.log(`iteration ${i}`);
    }
"""


@pytest.fixture
def script(tmp_path: Path) -> Path:
    return write_script(tmp_path, DETERMINISTIC, "det.k6.js")


def test_api_numbers_equal_cli_summary_export(script: Path, tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    cli = run_cli("run", "-q", "--summary-export", str(export), str(script))
    assert cli.exit_code == 99, cli.stderr
    exported = json.loads(export.read_text())["metrics"]

    result = jsrunner.run(script)
    assert result.exit_code == cli.exit_code == 99

    for name, stats in [("things", ["count"]), ("things{kind:big}", ["count"]),
                        ("level", ["value", "min", "max"]), ("odd", ["passes", "fails", "value"]),
                        ("sizes", ["avg", "min", "med", "max", "p(90)", "p(95)"]),
                        ("iterations", ["count"]), ("checks", ["passes", "fails", "value"])]:
        got = result.metrics[name]["values"]
        for stat in stats:
            api_stat = "rate" if stat == "value" and name in ("odd", "checks") else stat
            assert got[api_stat] == pytest.approx(exported[name][stat]), (name, stat)
            if api_stat != stat:
                assert got[api_stat] == result.value(name, api_stat)

    # thresholds: the export marks crossed ones true, the API says ok=False
    for t in result.thresholds:
        assert exported[t.metric]["thresholds"][t.expression] is (not t.ok)
    assert [(t.metric, t.expression) for t in result.failed_thresholds] == [("sizes", "p(90)<100")]
    assert result.thresholds_ok is False and result.ok is False


def test_result_checks_thresholds_logs_summary(script: Path) -> None:
    result = jsrunner.run(script)
    checks = {c.path: (c.passes, c.fails) for c in result.checks}
    assert checks == {
        "::outer::small iteration": (5, 2),
        "::outer::inner::always": (7, 0),
        "::top level": (6, 1),
    }
    failed = {c.name: c for c in result.failed_checks}
    assert sorted(failed) == ["small iteration", "top level"]
    assert failed["small iteration"].group == "::outer" and failed["top level"].group == ""
    assert str(failed["top level"]) == "✗ top level: 6 passed, 1 failed"
    assert str(failed["small iteration"]) == "✗ outer::small iteration: 5 passed, 2 failed"
    sizes = {t.expression: t for t in result.thresholds if t.metric == "sizes"}
    assert sizes["p(90)<100"].ok is False and sizes["p(90)<100"].aggregation == "p(90)"
    assert sizes["p(90)<100"].value == pytest.approx(result.value("sizes", "p(90)"))
    assert sizes["max>300"].ok is True and sizes["max>300"].value == 360
    assert "iteration 6" in result.messages("info")
    assert any("level=error" in line and "have been crossed" in line for line in result.log_lines)
    assert "█ THRESHOLDS" in result.summary_text and "small iteration" in result.summary_text
    assert result.data is not None and result.data["root_group"]["groups"][0]["name"] == "outer"
    with pytest.raises(ThresholdsFailed, match=r"sizes: p\(90\)<100") as info:
        result.raise_for_status()
    assert info.value.result is result  # type: ignore[attr-defined]


def test_overrides_env_options_and_more(tmp_path: Path) -> None:
    path = write_script(tmp_path, """
        import { check } from 'k6';
        import exec from 'k6/execution';
        export const options = { vus: 5, iterations: 50, thresholds: { checks: ['rate==1'] } };
        export default function () {
          check(__ENV, { 'env': (e) => e.NAME === 'x' && e.N === '3' && e.FLAG === 'true' });
          check(exec.vu.tags, { 'tag': (t) => t.team === 'qa' });
        }
    """)
    result = jsrunner.run(path, vus=2, iterations=4, env={"NAME": "x", "N": 3, "FLAG": True},
                          options={"thresholds": {"checks": ["rate==1"], "iterations": ["count==4"]}},
                          tags={"team": "qa"}, include_system_env=False)
    assert result.ok, result.log_lines
    assert result.value("iterations", "count") == 4
    assert {t.metric for t in result.thresholds} == {"checks", "iterations"}

    timed = jsrunner.run(path, vus=1, duration=1, env={"NAME": "x", "N": "3", "FLAG": "true"},
                         tags={"team": "qa"}, options={"thresholds": {}})
    assert timed.ok and timed.value("iterations", "count") > 4

    with pytest.raises(TypeError, match="unexpected keyword argument 'vu'"):
        jsrunner.run(path, vu=1)
    with pytest.raises(TypeError):
        jsrunner.run(path, stdout=None)


def test_run_source_and_echo(capsys: pytest.CaptureFixture[str]) -> None:
    result = api.run_source("export default function () { console.log('hi'); }", iterations=1, echo=True)
    assert result.ok and result.messages() == ["hi"]
    out, err = capsys.readouterr()
    assert "execution: local" in out and "█ TOTAL RESULTS" in out  # banner + summary, like the CLI
    assert 'msg=hi source=console' in err


def test_script_error_is_typed(tmp_path: Path) -> None:
    path = write_script(tmp_path, """
        export default function () {}
        throw new Error('broken init');
    """)
    with pytest.raises(ScriptError) as info:
        jsrunner.run(path)
    exc = info.value
    assert exc.exit_code == ExitCode.SCRIPT_EXCEPTION == 107
    assert "broken init" in exc.message
    assert exc.result.exit_code == 107  # type: ignore[attr-defined]

    setup_error = write_script(tmp_path, """
        export function setup() { throw new Error('setup went wrong'); }
        export default function () {}
    """, "setup.js")
    with pytest.raises(ScriptError, match="setup went wrong"):
        jsrunner.run(setup_error)

    missing_module = write_script(tmp_path, "import x from 'k6/nope'; export default function () {}", "mod.js")
    with pytest.raises(ScriptError, match="unknown module: k6/nope"):
        jsrunner.run(missing_module)


def test_config_and_fatal_errors_are_typed(tmp_path: Path) -> None:
    path = write_script(tmp_path, """
        export const options = { scenarios: { s: { executor: 'no-such-executor' } } };
        export default function () {}
    """)
    with pytest.raises(ConfigError, match="unknown executor type 'no-such-executor'") as info:
        jsrunner.run(path)
    assert info.value.exit_code == 104

    with pytest.raises(JsRunnerError, match="couldn't be found on local disk") as fatal:
        jsrunner.run(tmp_path / "does-not-exist.js")
    assert fatal.value.exit_code == 255

    ok = write_script(tmp_path, "export default function () {}", "ok.js")
    with pytest.raises(JsRunnerError, match="invalid duration"):
        jsrunner.run(ok, duration="soon")


def test_other_exit_codes_return_results(tmp_path: Path) -> None:
    path = write_script(tmp_path, """
        import exec from 'k6/execution';
        export const options = { iterations: 3 };
        export default function () { if (__ITER === 1) exec.test.abort('enough'); }
    """)
    result = jsrunner.run(path)
    assert result.exit_code == ExitCode.SCRIPT_ABORTED
    with pytest.raises(JsRunnerError) as info:
        result.raise_for_status()
    assert info.value.exit_code == 108

    # an exception inside an iteration is logged, not fatal (as in k6)
    iteration_error = write_script(tmp_path, """
        export const options = { iterations: 2 };
        export default function () { throw new Error('iteration failed'); }
    """, "iter.js")
    result = jsrunner.run(iteration_error)
    assert result.ok and any("iteration failed" in m for m in result.messages("error"))


def test_lazy_reexports() -> None:
    assert jsrunner.run is api.run and jsrunner.Result is api.Result
    assert jsrunner.errors.ScriptError is ScriptError
    code = "import sys, jsrunner; print('jsrunner.api' in sys.modules, 'jsrunner.runner' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
