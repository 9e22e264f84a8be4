"""A script that misbehaves: syntax errors, throws everywhere, endless loops, memory, output.

Exit codes and log shapes follow k6 v1.1.0 (checked side by side with the same scripts).
"""

from __future__ import annotations

import signal
import time

import pytest

from .util import Proc, run, script

# ---- errors that end the run ------------------------------------------------------------


def test_syntax_error_exit_107_one_line_no_summary(tmp_path):
    out = run(script(tmp_path, "export default function () { let x = ; }\n"), timeout=20)
    assert out.exit_code == 107
    (err,) = out.errors()
    assert "SyntaxError" in err and "script.js" in err
    assert 'hint="script exception"' in out.stderr
    assert "TOTAL RESULTS" not in out.stdout


def test_throw_in_init_exit_107(tmp_path):
    out = run(script(tmp_path, "throw new Error('init boom');\nexport default function () {}\n"), timeout=20)
    assert out.exit_code == 107
    (err,) = out.errors()
    assert err.startswith(f"Error: init boom\n\tat file://{tmp_path}/script.js:1:"), err
    assert "TOTAL RESULTS" not in out.stdout


@pytest.mark.parametrize("where, summary", [("setup", True), ("teardown", True)])
def test_throw_in_setup_or_teardown_exit_107_summary_printed(tmp_path, where, summary):
    src = f"""
    export const options = {{ iterations: 1 }};
    export function setup() {{ if ('{where}' === 'setup') throw new Error('boom-{where}'); }}
    export default function () {{ console.log('iteration ran'); }}
    export function teardown() {{ if ('{where}' === 'teardown') throw new Error('boom-{where}'); }}
    """
    out = run(script(tmp_path, src), timeout=20)
    assert out.exit_code == 107
    (err,) = out.errors()
    assert err.startswith(f"Error: boom-{where}\n\tat {where} (")
    assert ("iteration ran" in out.console) == (where == "teardown")
    assert ("TOTAL RESULTS" in out.stdout) == summary


CALLBACKS = """
import { WebSocket } from 'k6/websockets';
export const options = { vus: 1, iterations: 2 };
const K = __ENV.KIND;
export default function () {
  if (K === 'sync') throw new Error('boom-sync');
  if (K === 'async') return (async () => { await null; throw new Error('boom-async'); })();
  if (K === 'timeout') { setTimeout(() => { throw new Error('boom-timeout'); }, 10); return; }
  if (K === 'interval') { setInterval(() => { throw new Error('boom-interval'); }, 10); return; }
  if (K === 'then') { Promise.resolve(1).then(() => { throw new Error('boom-then'); }); return; }
  if (K === 'reject') { Promise.reject(new Error('boom-reject')); return; }
  const url = K === 'onerror' ? 'ws://127.0.0.1:1/' : __ENV.URL + '/echo?ping=1';
  const ws = new WebSocket(url);
  ws.onopen = () => { if (K === 'onopen') throw new Error('boom-onopen'); ws.send('hi'); if (K === 'onpong') ws.ping(); };
  ws.addEventListener('message', () => { if (K === 'listener') throw new Error('boom-listener'); });
  ws.onmessage = () => { if (K === 'onmessage') throw new Error('boom-onmessage'); if (K !== 'onpong' && K !== 'onping') ws.close(); };
  ws.onping = () => { if (K === 'onping') throw new Error('boom-onping'); };
  ws.onpong = () => { if (K === 'onpong') throw new Error('boom-onpong'); ws.close(); };
  ws.onerror = () => { if (K === 'onerror') throw new Error('boom-onerror'); };
  ws.onclose = () => { if (K === 'onclose') throw new Error('boom-onclose'); };
}
export function handleSummary(d) {
  if (K === 'summary') throw new Error('boom-summary');
  return { stdout: 'iterations=' + d.metrics.iterations.values.count + '\\n' };
}
"""

KINDS = ["sync", "async", "timeout", "interval", "then", "reject", "onopen", "listener", "onmessage",
         "onping", "onpong", "onerror", "onclose"]


@pytest.mark.parametrize("kind", KINDS)
def test_throw_in_every_kind_of_callback_fails_only_that_iteration(tmp_path, bad, kind):
    out = run(script(tmp_path, CALLBACKS), "-e", f"URL={bad.url}", "-e", f"KIND={kind}", timeout=20)
    assert out.exit_code == 0
    errors = out.errors()
    assert len(errors) == 2, out.stderr  # one per iteration, both iterations ran
    promise = kind in ("async", "then", "reject")
    for err in errors:
        head = f"Uncaught (in promise) Error: boom-{kind}" if promise else f"Error: boom-{kind}"
        assert err.startswith(head + "\n\tat "), err
    lines = [ln for ln in out.stderr.splitlines() if "level=error" in ln]
    assert all(("source=stacktrace" in ln) != promise for ln in lines), lines  # k6: no source for promises
    assert "iterations=2" in out.stdout


def test_throw_in_handle_summary_falls_back_to_the_default_summary(tmp_path, bad):
    out = run(script(tmp_path, CALLBACKS), "-e", f"URL={bad.url}", "-e", "KIND=summary", timeout=20)
    assert out.exit_code == 0
    (err,) = out.errors()
    assert err.startswith("Error: boom-summary\n\tat handleSummary (")
    assert "TOTAL RESULTS" in out.stdout


# ---- endless loops -----------------------------------------------------------------------
STUCK = """
import exec from 'k6/execution';
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '500ms' } } };
export default function () {
  if (__ITER === 3 && exec.vu.idInTest === 1) { console.log('spinning'); for (;;) {} }
}
export function teardown() { console.log('teardown ran'); }
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_endless_loop_ends_at_duration_plus_graceful_stop_and_is_reported(tmp_path, workers):
    out = run(script(tmp_path, STUCK), timeout=30, workers=workers, export=True)
    assert out.exit_code == 0
    stuck = [e for e in out.errors() if e.startswith("VU stuck: ")]
    assert len(stuck) >= 1, out.stderr
    assert "teardown ran" in out.console
    assert out.count("iterations") > 10  # the other VU went on working
    assert out.elapsed < 12


def test_signal_reaches_a_process_whose_vu_is_stuck_in_js(tmp_path):
    src = """
    export const options = { vus: 1, duration: '30s' };
    export default function () { console.log('spinning'); for (;;) {} }
    export function teardown() { console.log('teardown ran'); }
    """
    proc = Proc(script(tmp_path, src), workers=1)
    proc.wait_for("spinning")
    proc.signal(signal.SIGTERM)
    t0 = time.monotonic()
    out = proc.finish(15)
    assert time.monotonic() - t0 < 5
    assert out.exit_code == 105
    assert "test run was aborted because k6 received a 'terminated' signal" in out.errors()
    assert "teardown ran" in out.console


def test_endless_loop_in_setup_is_a_setup_timeout(tmp_path):
    src = """
    export const options = { setupTimeout: '1s', iterations: 1 };
    export function setup() { for (;;) {} }
    export default function () {}
    """
    out = run(script(tmp_path, src), timeout=20)
    assert out.exit_code == 100
    assert out.errors() == ["setup() execution timed out after 1 seconds"]


# ---- memory and output -------------------------------------------------------------------
def test_js_memory_limit_is_a_clean_error_in_an_iteration(tmp_path):
    src = """
    export const options = { iterations: 3 };
    const keep = [];
    export default function () { for (;;) keep.push('x'.repeat(1 << 20) + Math.random()); }
    """
    out = run(script(tmp_path, src), timeout=60, export=True)
    assert out.exit_code == 0
    errors = out.errors()
    assert len(errors) == 3 and all(e.startswith("InternalError: out of memory\n") for e in errors), errors
    assert out.count("iterations") == 3


def test_js_memory_limit_in_init_exit_107(tmp_path):
    src = """
    const keep = []; for (;;) keep.push('x'.repeat(1 << 20) + Math.random());
    export default function () {}
    """
    out = run(script(tmp_path, src), timeout=60)
    assert out.exit_code == 107
    (err,) = out.errors()
    assert err.startswith("InternalError: out of memory\n")


@pytest.mark.parametrize("workers", [1, 2])
def test_huge_console_output(tmp_path, workers):
    src = """
    export const options = { iterations: 1 };
    export default function () {
      console.log('big:' + 'y'.repeat(8 << 20));
      for (let i = 0; i < 20000; i++) console.log('line ' + i);
      console.log('done');
    }
    """
    out = run(script(tmp_path, src), timeout=60, workers=workers)
    assert out.exit_code == 0
    console = out.console
    assert len(console) == 20002
    assert console[0] == "big:" + "y" * (8 << 20)
    assert console[-1] == "done"
    assert not out.errors()


def test_open_of_a_missing_file(tmp_path):
    out = run(script(tmp_path, "const d = open('./nope.txt');\nexport default function () {}\n"), timeout=20)
    assert out.exit_code == 107
    (err,) = out.errors()
    assert err.startswith(f"GoError: stat {tmp_path}/nope.txt: no such file or directory\n")


SPIN_BESIDE_TIMERS = """
import { setInterval, clearInterval } from 'k6/timers';
import { Counter } from 'k6/metrics';
const ticks = new Counter('ticks');
export const options = { scenarios: {
  spin: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'spin', maxDuration: '3s', gracefulStop: '0s' },
  tick: { executor: 'per-vu-iterations', vus: 1, iterations: 1, exec: 'tick', maxDuration: '1500ms', gracefulStop: '0s' },
} };
export function spin() { for (;;) {} }
export function tick() {
  return new Promise((resolve) => {
    let n = 0;
    const id = setInterval(() => { ticks.add(1); if (++n === 20) { clearInterval(id); resolve(); } }, 20);
  });
}
"""


def test_a_vu_in_an_endless_loop_does_not_stop_the_other_vus(tmp_path):
    # VUs share scheduler threads (jsrunner/fibers.py): a VU whose JS never returns to its
    # event loop must still let the others run (it yields from QuickJS's interrupt handler),
    # as in k6, where every VU is a goroutine. The ticking VU needs ~0.4 s and is cut off at
    # 1.5 s; the spinning one is stopped only after 3 s.
    out = run(script(tmp_path, SPIN_BESIDE_TIMERS), timeout=30, export=True)
    assert out.exit_code == 0, out.stderr
    assert out.count("ticks") == 20
    assert out.count("iterations") == 1  # the ticking VU's; the spinning one was interrupted
