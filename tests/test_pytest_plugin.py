"""The pytest plugin (jsrunner/pytest_plugin.py): collection, outcomes, reports, options."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET

import pytest

pytest_plugins = ["pytester"]

PASSING = """
    import { check } from 'k6';
    import { Counter } from 'k6/metrics';
    const hits = new Counter('hits');
    export const options = { vus: 1, iterations: 3, thresholds: { hits: ['count==3'], checks: ['rate==1'] } };
    export default function () {
      hits.add(1);
      check(__ITER, { 'iteration is small': (i) => i < 3 });
    }
"""

FAILING = """
    import { check } from 'k6';
    export const options = { vus: 1, iterations: 4, thresholds: { checks: ['rate>0.9'] } };
    export default function () {
      check(__ITER, { 'iteration is even': (i) => i % 2 === 0, 'always fine': () => true });
      console.log(`iteration ${__ITER} done`);
    }
"""

CHECKS_ONLY = """
    import { check } from 'k6';
    export const options = { iterations: 2 };
    export default function () { check(1, { 'one is two': (x) => x === 2 }); }
"""

INIT_ERROR = """
    const x = null;
    export default function () {}
    x.boom();
"""


def _write(pytester: pytest.Pytester, name: str, source: str) -> None:
    path = pytester.path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")


def test_passing_script_is_one_passing_item(pytester: pytest.Pytester) -> None:
    _write(pytester, "ok.k6.js", PASSING)
    _write(pytester, "helper.js", "export const x = 1;")  # not *.k6.js: not collected
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*ok.k6.js::ok PASSED*"])


def test_failing_script_report_names_threshold_and_check(pytester: pytest.Pytester) -> None:
    _write(pytester, "bad.k6.js", FAILING)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "k6 script bad.k6.js failed: exit code 99 (thresholds crossed); 1 check failed" in out
    assert "crossed thresholds:" in out
    assert "✗ checks: 'rate>0.9' (rate=0.75)" in out
    assert "failed checks:" in out
    assert "✗ iteration is even: 2 passed, 2 failed" in out
    assert "always fine" not in out.split("failed checks:")[1].split("last log lines")[0]
    assert "last log lines" in out and "iteration 3 done" in out
    assert "Captured k6 summary call" in out  # the whole end-of-test summary is attached
    result.stdout.fnmatch_lines(["FAILED bad.k6.js::bad - k6 script bad.k6.js failed: exit code 99*"])


def test_script_exception_fails_with_the_error(pytester: pytest.Pytester) -> None:
    _write(pytester, "broken.k6.js", INIT_ERROR)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "exit code 107 (script exception)" in out
    assert "TypeError" in out and "boom" in out


def test_failed_checks_fail_unless_disabled(pytester: pytest.Pytester) -> None:
    _write(pytester, "checks.k6.js", CHECKS_ONLY)
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*k6 script checks.k6.js failed: 1 check failed*", "*✗ one is two: 0 passed, 2 failed*"])

    pytester.makeini("[pytest]\njsrunner_fail_on_checks = false\n")
    pytester.runpytest().assert_outcomes(passed=1)


def test_junitxml_has_one_testcase_per_script(pytester: pytest.Pytester) -> None:
    _write(pytester, "a/ok.k6.js", PASSING)
    _write(pytester, "a/bad.k6.js", FAILING)
    xml = pytester.path / "report.xml"
    result = pytester.runpytest(f"--junitxml={xml}")
    result.assert_outcomes(passed=1, failed=1)
    root = ET.parse(xml).getroot()
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert set(cases) == {"ok", "bad"}
    assert cases["ok"].find("failure") is None
    failure = cases["bad"].find("failure")
    assert failure is not None and "iteration is even" in (failure.text or "")
    props = {p.get("name"): p.get("value") for p in cases["bad"].iter("property")}
    assert props["exit_code"] == "99" and props["iterations"] == "4" and props["checks_failed"] == "2"


def test_xdist_runs_scripts_in_parallel(pytester: pytest.Pytester) -> None:
    for i in range(3):
        _write(pytester, f"s{i}.k6.js", PASSING)
    _write(pytester, "bad.k6.js", FAILING)
    xml = pytester.path / "x.xml"
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", f"--junitxml={xml}")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*2 workers*"])
    assert "iteration is even" in xml.read_text(encoding="utf-8")


def test_header_comment_and_ini_options(pytester: pytest.Pytester) -> None:
    _write(pytester, "opts.k6.js", """
        // A script whose header sets its jsrunner options.
        // jsrunner: {"vus": 2, "iterations": 6, "env": {"FROM_HEADER": "h"}}
        import { check } from 'k6';
        import exec from 'k6/execution';
        export const options = { iterations: 1 };
        export default function () {
          check(__ENV, {
            'header env': (e) => e.FROM_HEADER === 'h',
            'ini env': (e) => e.FROM_INI === 'i',
            'glob line env': (e) => e.FROM_GLOB === 'g',
            'two vus': () => exec.instance.vusInitialized === 2,
          });
        }
        export function handleSummary(data) {
          return { stdout: `iterations=${data.metrics.iterations.values.count}\\n` };
        }
    """)
    pytester.makeini(textwrap.dedent("""
        [pytest]
        jsrunner_env = FROM_INI=i
        jsrunner_options =
            {"env": {"FROM_GLOB": "wrong"}}
            opt*.k6.js {"env": {"FROM_GLOB": "g"}}
            other*.k6.js {"env": {"FROM_GLOB": "no"}}
    """))
    result = pytester.runpytest("-rA")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["iterations=6"])


def test_marker_like_options(pytester: pytest.Pytester) -> None:
    _write(pytester, "skipped.k6.js", '// jsrunner: {"skip": "needs a staging server"}\n' + FAILING)
    _write(pytester, "known_bad.k6.js", '// jsrunner: {"xfail": true}\n' + FAILING)
    _write(pytester, "expected_99.k6.js", '// jsrunner: {"expect_exit": 99, "fail_on_checks": false}\n' + FAILING)
    _write(pytester, "smoke.k6.js", '// jsrunner: {"markers": ["smoke"]}\n' + PASSING)
    pytester.makeini("[pytest]\nmarkers =\n    smoke: quick scripts\n")
    result = pytester.runpytest("-rs", "--strict-markers")
    result.assert_outcomes(passed=2, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(["*needs a staging server*"])
    pytester.runpytest("-m", "smoke").assert_outcomes(passed=1, deselected=3)


def test_bad_options_are_collection_errors(pytester: pytest.Pytester) -> None:
    _write(pytester, "bad_json.k6.js", "// jsrunner: {vus: 2}\n" + PASSING)
    _write(pytester, "bad_key.k6.js", '// jsrunner: {"vuss": 2}\n' + PASSING)
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    out = result.stdout.str()
    assert "invalid JSON" in out
    assert "unknown jsrunner option(s): vuss" in out


def test_glob_and_pyproject_scripts(pytester: pytest.Pytester) -> None:
    _write(pytester, "tests/test_dummy.py", "def test_ok():\n    pass\n")
    _write(pytester, "load/smoke.js", PASSING)  # listed: collected although not *.k6.js
    _write(pytester, "load/ignored.js", FAILING)
    _write(pytester, "tests/extra.k6.js", PASSING)
    pytester.makepyprojecttoml(textwrap.dedent("""
        [tool.pytest.ini_options]
        testpaths = ["tests"]

        [tool.jsrunner]
        scripts = ["load/smoke.js"]
    """))
    result = pytester.runpytest("-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*load/smoke.js::smoke PASSED*"])
    # explicit paths: only what is asked for
    pytester.runpytest("tests/test_dummy.py").assert_outcomes(passed=1)
    # another glob
    _write(pytester, "perf/x.perf.js", PASSING)
    pytester.runpytest("perf", "-o", "jsrunner_glob=*.perf.js").assert_outcomes(passed=1)


def test_serve_sets_ws_url(pytester: pytest.Pytester) -> None:
    _write(pytester, "env.k6.js", """
        import { check } from 'k6';
        export const options = { iterations: 1 };
        export default function () {
          check(__ENV, {
            'ws url is local': (e) => /^ws:\\/\\/127\\.0\\.0\\.1:\\d+$/.test(e.WS_URL),
            'base url matches': (e) => e.BASE_URL === e.WS_URL.replace('ws://', 'http://'),
          });
        }
    """)
    pytester.runpytest().assert_outcomes(failed=1)
    pytester.runpytest("-o", "jsrunner_serve=true").assert_outcomes(passed=1)
    pytester.runpytest("--jsrunner-serve").assert_outcomes(passed=1)


def test_disabled_with_no_jsrunner(pytester: pytest.Pytester) -> None:
    _write(pytester, "ok.k6.js", PASSING)
    result = pytester.runpytest("-p", "no:jsrunner")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
