"""The run itself is disturbed: signals at every phase, a full disk, an unwritable export.

Expected behaviour from k6 v1.1.0 with the same script (runner.md §5): the first
SIGINT/SIGTERM stops the test gracefully (teardown and summary still run, exit 105).
"""

from __future__ import annotations

import signal

import pytest

from .util import Proc, run, script

PHASES = """
import { sleep } from 'k6';
export const options = { vus: 1, duration: __ENV.PHASE === 'iter' ? '20s' : '1s',
                         setupTimeout: '30s', teardownTimeout: '30s' };
function busy(ms) { const t = Date.now(); while (Date.now() - t < ms) {} }
if (__ENV.PHASE === 'init' && __VU === 1) { console.log('init start'); busy(1500); }
export function setup() { console.log('setup start'); if (__ENV.PHASE === 'setup') sleep(20); }
export default function () { if (__ENV.PHASE === 'iter') console.log('iter start'); sleep(0.1); }
export function teardown() {
  console.log('teardown start'); if (__ENV.PHASE === 'teardown') sleep(1); console.log('teardown end');
}
export function handleSummary(d) {
  console.log('summary start'); if (__ENV.PHASE === 'summary') busy(1500);
  return { stdout: 'SUMMARY iterations=' + (d.metrics.iterations ? d.metrics.iterations.values.count : 0) + '\\n' };
}
"""

SIGNALS = {"INT": (signal.SIGINT, "interrupt"), "TERM": (signal.SIGTERM, "terminated")}


@pytest.mark.parametrize("phase", ["init", "setup", "iter", "teardown"])
@pytest.mark.parametrize("sig", ["INT", "TERM"])
def test_signal_at_every_phase(tmp_path, phase, sig):
    signum, name = SIGNALS[sig]
    proc = Proc(script(tmp_path, PHASES), "-e", f"PHASE={phase}")
    proc.wait_for(f"{phase} start")
    proc.signal(signum)
    out = proc.finish(20)
    assert out.exit_code == 105, out.stderr
    assert out.errors()[-1] == f"test run was aborted because k6 received a '{name}' signal"
    console = out.console
    assert ("setup start" in console) == (phase != "init")
    # teardown runs unless the run stopped before the test started (k6: not after a
    # signal during init or setup), and a running teardown is not cut short
    assert ("teardown start" in console) == (phase in ("iter", "teardown"))
    assert ("teardown end" in console) == ("teardown start" in console)
    assert "summary start" in console and "SUMMARY iterations=" in out.stdout
    assert out.elapsed < 15


@pytest.mark.parametrize("sig", ["INT", "TERM"])
def test_signal_during_handle_summary_does_not_hang(tmp_path, sig):
    # k6 stops handling signals once the test is over: a SIGTERM during handleSummary
    # kills it (143), and jsrunner ends promptly too; either way no hang, no traceback
    signum, name = SIGNALS[sig]
    proc = Proc(script(tmp_path, PHASES), "-e", "PHASE=summary")
    proc.wait_for("summary start")
    proc.signal(signum)
    out = proc.finish(20)
    assert out.exit_code in (0, 105, -signum, 128 + signum), out.stderr


def test_second_signal_during_a_stuck_init_exits_at_once(tmp_path):
    src = """
    console.log('init start'); for (;;) {}
    export default function () {}
    """
    proc = Proc(script(tmp_path, src))
    proc.wait_for("init start")
    proc.signal(signal.SIGINT)
    import time
    time.sleep(0.5)
    proc.signal(signal.SIGINT)
    out = proc.finish(10)
    assert out.exit_code == 105
    assert "Aborting k6 in response to signal" in out.errors()


@pytest.mark.parametrize("workers", [2])
def test_signal_with_worker_processes(tmp_path, workers):
    proc = Proc(script(tmp_path, PHASES), "-e", "PHASE=iter", workers=workers)
    proc.wait_for("iter start")
    proc.signal(signal.SIGTERM)
    out = proc.finish(20)
    assert out.exit_code == 105
    assert "test run was aborted because k6 received a 'terminated' signal" in out.errors()
    assert "teardown end" in out.console


# ---- outputs that cannot be written ------------------------------------------------------
ITERS = """
import { sleep } from 'k6';
export const options = { vus: 2, iterations: 40 };
export default function () { sleep(0.01); }
"""


def test_full_disk_for_the_json_output(tmp_path):
    out = run(script(tmp_path, ITERS), "--out", "json=/dev/full", export=True, timeout=30, workers=None)
    assert out.exit_code == 0  # k6: 0, the test goes on
    (err,) = out.errors()  # one line (k6 repeats it for every flush)
    assert "/dev/full" in err and "No space left on device" in err
    assert out.count("iterations") == 40  # metrics still add up
    assert "iterations" in out.stdout


def test_unopenable_json_output_exit_255(tmp_path):
    out = run(script(tmp_path, ITERS), "--out", f"json={tmp_path}/no/such/dir/out.json", timeout=30, workers=None)
    assert out.exit_code == 255  # k6: "open …: no such file or directory", 255
    (err,) = out.errors()
    assert "no/such/dir/out.json" in err and "o such file or directory" in err


@pytest.mark.parametrize("target, message", [
    ("/dev/full", "error saving summary to '/dev/full' after 0 bytes: write /dev/full: no space left on device"),
    ("{tmp}/no/dir/x.json", "could not open '{tmp}/no/dir/x.json': open {tmp}/no/dir/x.json: no such file or directory"),
    ("{tmp}", "could not open '{tmp}': open {tmp}: is a directory"),
])
def test_unwritable_summary_export(tmp_path, target, message):
    target = target.format(tmp=tmp_path)
    out = run(script(tmp_path, ITERS), "--summary-export", target, timeout=30)
    assert out.exit_code == 0  # k6: 0, same message
    assert out.errors() == ["failed to handle the end-of-test summary"]
    assert ("Could not save some summary information:\n\t- " + message.format(tmp=tmp_path)
            in out.stderr.encode().decode("unicode_escape"))
    assert "iterations" in out.stdout  # the text summary is still printed


def test_unwritable_handle_summary_file(tmp_path):
    src = ITERS + "\nexport function handleSummary(d) { return { '/dev/full': 'x', stdout: 'still here\\n' }; }\n"
    out = run(script(tmp_path, src), timeout=30)
    assert out.exit_code == 0
    assert out.errors() == ["failed to handle the end-of-test summary"]
    assert "still here" in out.stdout


@pytest.mark.parametrize("flag, message", [
    ("--log-output=file={tmp}/no/dir/x.log", "provided directory '{tmp}/no/dir' does not exist"),
    ("--log-output=file={tmp}", "failed to open logfile {tmp}: open {tmp}: is a directory"),
    ("--console-output={tmp}/no/dir/c.log", "open {tmp}/no/dir/c.log: no such file or directory"),
    ("--console-output={tmp}", "open {tmp}: is a directory"),
])
def test_unopenable_log_files_exit_255(tmp_path, flag, message):
    out = run(script(tmp_path, ITERS), flag.format(tmp=tmp_path), timeout=30)
    assert out.exit_code == 255  # k6: 255, same texts
    assert out.errors() == [message.format(tmp=tmp_path)]
