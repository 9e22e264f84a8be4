"""SIGINT/SIGTERM handling of ``jsrunner run`` in a real process (runner.md §5, k6 v1.1.0):

- the first signal stops the test like k6: nothing new starts, running iterations are
  interrupted at once, ``teardown()`` still runs (``setup()`` is interrupted), the summary is
  printed and the run ends with ``test run was aborted because k6 received a 'interrupt'
  signal`` (``'terminated'`` for SIGTERM), exit 105;
- a second signal ends the process at once: ``Aborting k6 in response to signal``, exit 105,
  no summary.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")


class Proc:
    """``python -m jsrunner run`` with its stderr read line by line in the background."""

    def __init__(self, tmp_path, source: str, *args: str) -> None:
        path = tmp_path / "script.js"
        path.write_text(textwrap.dedent(source), encoding="utf-8")
        env = dict(os.environ, PYTHONUNBUFFERED="1", JSRUNNER_WORKERS="1")
        self.p = subprocess.Popen([sys.executable, "-m", "jsrunner", "run", "--workers", "1", *args, str(path)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                  cwd=str(tmp_path))
        self.err: list[str] = []
        self.out = ""
        self._cond = threading.Condition()
        threading.Thread(target=self._read_err, daemon=True).start()
        self._out_thread = threading.Thread(target=self._read_out, daemon=True)
        self._out_thread.start()

    def _read_err(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            with self._cond:
                self.err.append(line.rstrip("\n"))
                self._cond.notify_all()

    def _read_out(self) -> None:
        assert self.p.stdout is not None
        self.out = self.p.stdout.read()

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(text in line for line in self.err):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.p.poll() is not None:
                    raise AssertionError(f"{text!r} never logged: {self.err}")
                self._cond.wait(min(remaining, 0.1))

    def send(self, sig: int) -> None:
        self.p.send_signal(sig)

    def finish(self, timeout: float = 20.0) -> int:
        code = self.p.wait(timeout)
        self._out_thread.join(5)
        time.sleep(0.05)
        return code

    def console(self) -> list[str]:
        return [line.split('msg=', 1)[1].split(' source=console')[0].strip('"')
                for line in self.err if "source=console" in line]


SCRIPT = """
    import { sleep } from 'k6';
    export const options = { vus: 2, duration: '30s' };
    export function setup() { return { a: 1 }; }
    export default function () { console.log('start ' + __VU); sleep(5); console.log('end'); }
    export function teardown(d) { console.log('teardown ' + d.a); }
"""


@pytest.mark.parametrize("sig,name", [(signal.SIGINT, "interrupt"), (signal.SIGTERM, "terminated")])
def test_first_signal_stops_gracefully_exit_105(tmp_path, sig, name):
    proc = Proc(tmp_path, SCRIPT)
    proc.wait_for("start 1")
    proc.wait_for("start 2")
    t0 = time.monotonic()
    proc.send(sig)
    code = proc.finish()
    assert code == 105
    assert time.monotonic() - t0 < 5  # running iterations are interrupted, not waited for
    assert "teardown 1" in proc.console()
    assert proc.err[-1].endswith(f'level=error msg="test run was aborted because k6 received a \'{name}\' signal"')
    assert "TOTAL RESULTS" in proc.out
    tail = proc.out[proc.out.rindex("running ("):]
    assert "0 complete and 2 interrupted iterations" in tail
    assert "No script iterations fully finished" not in "\n".join(proc.err)


def test_second_signal_ends_the_process_at_once(tmp_path):
    proc = Proc(tmp_path, """
        import { sleep } from 'k6';
        export const options = { vus: 1, duration: '30s' };
        export default function () { console.log('iter'); sleep(0.5); }
        export function teardown() { console.log('teardown start'); sleep(30); console.log('teardown end'); }
    """)
    proc.wait_for("iter")
    proc.send(signal.SIGINT)
    proc.wait_for("teardown start")  # the first signal does not interrupt teardown()
    time.sleep(0.3)
    t0 = time.monotonic()
    proc.send(signal.SIGINT)
    code = proc.finish()
    assert code == 105
    assert time.monotonic() - t0 < 3
    assert proc.err[-1].endswith('level=error msg="Aborting k6 in response to signal" sig=interrupt')
    assert "teardown end" not in proc.console()
    assert "TOTAL RESULTS" not in proc.out


def test_signal_during_setup_skips_iterations_and_teardown(tmp_path):
    proc = Proc(tmp_path, """
        import { sleep } from 'k6';
        export const options = { vus: 1, duration: '5s' };
        export function setup() { console.log('setup start'); sleep(20); }
        export default function () { console.log('iteration'); }
        export function teardown() { console.log('teardown'); }
    """, "-q")
    proc.wait_for("setup start")
    t0 = time.monotonic()
    proc.send(signal.SIGINT)
    code = proc.finish()
    assert code == 105
    assert time.monotonic() - t0 < 3
    assert "iteration" not in proc.console() and "teardown" not in proc.console()
    assert "TOTAL RESULTS" in proc.out
    assert "received a 'interrupt' signal" in proc.err[-1]
