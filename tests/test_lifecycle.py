"""setup/teardown, their timeouts, --no-setup/--no-teardown, exec.test.abort()/fail() and
when the end-of-test summary is printed (runner.md §3, §5; runtime.md §1, §6).

Every expectation here was observed with k6 v1.1.0 (message texts, exit codes, what runs
after what, where the run error is logged: after the summary).
"""

from __future__ import annotations

import json
import time

from .helpers import run_script

SUMMARY = "TOTAL RESULTS"


def _after_summary(res, text: str) -> bool:
    """``text`` is logged (stderr) and the summary was printed (stdout)."""
    return SUMMARY in res.stdout and any(text in line for line in res.log_lines)


def test_setup_data_flows_to_iterations_teardown_and_handle_summary(tmp_path):
    res = run_script(tmp_path, """
        export const options = { vus: 2, iterations: 4 };
        export function setup() { return { n: 1, list: [1, 2], when: undefined }; }
        export default function (data) { data.n += 1; console.log(JSON.stringify(['it', __VU, data.n, data.list])); }
        export function teardown(data) { console.log(JSON.stringify(['td', data.n, data.when])); }
        export function handleSummary(s) { console.log(JSON.stringify(['hs', s.setup_data.n])); return {}; }
    """)
    assert res.exit_code == 0, res.stderr
    rows = [json.loads(line) for line in res.console]
    its = [r for r in rows if r[0] == "it"]
    assert len(its) == 4 and all(r[3] == [1, 2] for r in its)
    for vu in {r[1] for r in its}:  # each VU mutates its own copy
        mine = [r[2] for r in its if r[1] == vu]
        assert mine == list(range(2, 2 + len(mine)))
    assert ["td", 1, None] in rows   # a fresh copy; undefined became null
    assert ["hs", 1] in rows


def test_no_setup_and_no_teardown(tmp_path):
    src = """
        export const options = { iterations: 1 };
        export function setup() { console.log('setup'); return 1; }
        export default function (data) { console.log('data ' + typeof data + ' ' + arguments.length); }
        export function teardown() { console.log('teardown'); }
    """
    res = run_script(tmp_path, src, no_setup=True)
    assert res.exit_code == 0 and res.console == ["data undefined 1", "teardown"]
    res = run_script(tmp_path, src, no_teardown=True)
    assert res.exit_code == 0 and res.console == ["setup", "data number 1"]
    res = run_script(tmp_path, src, options={"noSetup": True, "noTeardown": True})
    assert res.console == ["data undefined 1"]


def test_setup_timeout_exit_100(tmp_path):
    t0 = time.monotonic()
    res = run_script(tmp_path, """
        import { sleep } from 'k6';
        export const options = { iterations: 1, setupTimeout: '500ms' };
        export function setup() { setTimeout(() => console.log('never'), 5000); console.log('setup'); }
        export default function () { console.log('iteration'); }
        export function teardown() { console.log('teardown'); }
    """)
    assert time.monotonic() - t0 < 4
    assert res.exit_code == 100
    assert res.console == ["setup"]  # no iteration, no teardown
    warn, err = res.log_lines[-2], res.log_lines[-1]
    assert 'level=warning msg="setTimeout 1 was stopped because the VU iteration was interrupted"' in warn
    assert ('level=error msg="setup() execution timed out after 0.5 seconds" '
            'hint="You can increase the time limit via the setupTimeout option"') in err
    assert SUMMARY in res.stdout
    assert "No script iterations fully finished" not in res.stderr


def test_teardown_timeout_exit_101(tmp_path):
    res = run_script(tmp_path, """
        import { sleep } from 'k6';
        export const options = { iterations: 1, teardownTimeout: '1s' };
        export default function () {}
        export function teardown() { console.log('teardown'); sleep(5); }
    """)
    assert res.exit_code == 101
    assert res.messages("error")[-1] == "teardown() execution timed out after 1 seconds"
    assert 'hint="You can increase the time limit via the teardownTimeout option"' in res.log_lines[-1]
    assert SUMMARY in res.stdout and "iterations" in res.stdout


def test_teardown_runs_after_a_setup_without_return_and_errors_in_teardown_exit_107(tmp_path):
    res = run_script(tmp_path, """
        export const options = { iterations: 1 };
        export default function () {}
        export function teardown(data) { console.log(typeof data); throw new Error('td boom'); }
    """)
    assert res.exit_code == 107
    assert res.console == ["undefined"]
    assert 'msg="Error: td boom\\n\\tat teardown (file://' in res.stderr and 'hint="script exception"' in res.stderr
    assert SUMMARY in res.stdout


def test_abort_in_an_iteration_exit_108(tmp_path):
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        import { sleep } from 'k6';
        export const options = { vus: 2, duration: '10s' };
        export function setup() { return { x: 1 }; }
        export default function () {
          if (__VU === 1 && __ITER === 1) { setTimeout(() => {}, 1000); exec.test.abort('boom'); console.log('never'); }
          sleep(0.2);
        }
        export function teardown(d) { console.log('teardown ' + d.x); }
    """, quiet=False, summary_export=str(tmp_path / "s.json"))
    assert res.exit_code == 108
    assert "never" not in res.console and res.console == ["teardown 1"]  # teardown still runs
    last = res.log_lines[-1]
    assert 'level=error msg="test aborted: boom at default (file://' in last and "script.js:7:" in last
    assert "setTimeout 1 was stopped because the VU iteration was interrupted" in res.messages("warning")
    assert "No script iterations fully finished" not in res.stderr
    # the summary is printed; the aborting iteration counts in `iterations` but is shown as
    # interrupted, like the other VU's iteration that was cut off
    assert SUMMARY in res.stdout
    iters = json.loads((tmp_path / "s.json").read_text())["metrics"]["iterations"]["count"]
    tail = res.stdout[res.stdout.rindex("running ("):]
    assert "0/2 VUs" in tail and "default ✗ [" in tail
    complete = int(tail.split(" complete")[0].rsplit(" ", 1)[1])
    assert iters == complete + 1


def test_abort_in_setup_no_iterations_no_teardown(tmp_path):
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        export function setup() { exec.test.abort('stop here'); }
        export default function () { console.log('iteration'); }
        export function teardown() { console.log('teardown'); }
    """)
    assert res.exit_code == 108
    assert res.console == []
    assert res.messages("error") == ["test aborted: stop here"]  # no location from setup()
    assert SUMMARY in res.stdout


def test_abort_in_teardown_and_without_message(tmp_path):
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        export default function () {}
        export function teardown() { exec.test.abort('late'); }
    """)
    assert res.exit_code == 108 and res.messages("error") == ["test aborted: late"]
    assert SUMMARY in res.stdout
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        export default function () { exec.test.abort(); }
    """)
    assert res.exit_code == 108
    assert res.messages("error")[0].startswith("test aborted at default (file://")


def test_abort_stops_other_scenarios_waiting_to_start(tmp_path):
    t0 = time.monotonic()
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        export const options = { scenarios: {
          a: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'a' },
          b: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'b', startTime: '5s' },
        } };
        export function a() { exec.test.abort('enough'); }
        export function b() { console.log('b ran'); }
    """)
    assert res.exit_code == 108 and res.console == []
    assert time.monotonic() - t0 < 3


def test_fail_marks_the_run_failed_exit_110(tmp_path):
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        import { Counter } from 'k6/metrics';
        const c = new Counter('cc');
        export const options = { iterations: 2, thresholds: { cc: ['count>5'] } };
        export default function () { c.add(1); exec.test.fail('bad ' + __ITER); console.log('continues'); }
    """)
    assert res.exit_code == 110
    assert res.console == ["continues", "continues"]
    errors = res.messages("error")
    assert errors == ["test marked as failed: bad 0", "test marked as failed: bad 1", "test run was marked as failed"]
    assert SUMMARY in res.stdout  # and the crossed threshold is not reported (k6)


def test_abort_wins_over_fail(tmp_path):
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        export default function () { exec.test.fail('f'); }
        export function teardown() { exec.test.abort('a'); }
    """)
    assert res.exit_code == 108
    assert res.messages("error") == ["test marked as failed: f", "test aborted: a"]


def test_threshold_abort_on_fail_stops_the_test_teardown_runs(tmp_path):
    t0 = time.monotonic()
    res = run_script(tmp_path, """
        import { Counter } from 'k6/metrics';
        import { sleep } from 'k6';
        const errs = new Counter('errs');
        export const options = { vus: 1, duration: '20s', thresholds: { errs: [{ threshold: 'count<1', abortOnFail: true }] } };
        export default function () { errs.add(1); sleep(0.1); }
        export function teardown() { console.log('teardown'); }
    """)
    assert res.exit_code == 99
    assert time.monotonic() - t0 < 8
    assert res.console == ["teardown"]
    assert res.messages("error")[-1] == ("thresholds on metrics 'errs' were crossed; at least one has abortOnFail "
                                         "enabled, stopping test prematurely")
    assert SUMMARY in res.stdout


def test_test_run_duration_counts_from_before_setup(tmp_path):
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        import { sleep } from 'k6';
        export const options = { iterations: 1 };
        export function setup() { sleep(0.3); console.log(exec.instance.currentTestRunDuration >= 250); }
        export default function () { console.log(exec.instance.currentTestRunDuration >= 250); }
    """)
    assert res.console == ["true", "true"]


def test_no_iterations_warning_only_for_an_undisturbed_run(tmp_path):
    res = run_script(tmp_path, """
        export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '0s' } } };
        export default function () { setTimeout(() => {}, 5000); }
    """)
    assert res.exit_code == 0
    warnings = res.messages("warning")
    assert warnings[-1] == "No script iterations fully finished, consider making the test duration longer"
    # logged before the summary: it is the last log line and the summary still follows on stdout
    assert SUMMARY in res.stdout


def test_abort_in_init_code(tmp_path):
    # in a VU's init: the summary is still printed; in the options pass: a load error (k6)
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        if (__VU === 1) exec.test.abort('from init');
        export default function () { console.log('iteration'); }
    """)
    assert res.exit_code == 108 and res.console == []
    assert res.messages("error")[0].startswith("test aborted: from init at file://")
    assert 'hint="error while initializing VU #1"' in res.log_lines[-1]
    assert SUMMARY in res.stdout
    res = run_script(tmp_path, """
        import exec from 'k6/execution';
        if (__VU === 0) exec.test.abort('in the options pass');
        export default function () {}
    """)
    assert res.exit_code == 108
    msg = res.messages("error")[0]
    assert msg.startswith(f"could not initialize '{tmp_path}/script.js': could not load JS test 'file://")
    assert ": test aborted: in the options pass at file://" in msg
    assert SUMMARY not in res.stdout
