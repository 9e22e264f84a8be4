"""Multi-process runs (``--workers N``): exact counts, setup data, thresholds, faults, no orphans."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from jsrunner.schedule import split_tuples
from jsrunner.segment_runner import Control, config_to_dict, run_segment
from jsrunner.runner import RunConfig

from .helpers import procs_with, wait_gone, write_script

COUNTS = """
import { Counter } from 'k6/metrics';
import { check } from 'k6';
import exec from 'k6/execution';
const hits = new Counter('hits');
export const options = {
  scenarios: {
    shared: { executor: 'shared-iterations', vus: 3, iterations: 101 },
    pervu: { executor: 'per-vu-iterations', vus: 3, iterations: 7, startTime: '10ms' },
    arrivals: { executor: 'constant-arrival-rate', rate: 40, timeUnit: '1s', duration: '1s',
                preAllocatedVUs: 4 },
  },
  thresholds: {
    'iterations{scenario:shared}': ['count>0'], 'iterations{scenario:pervu}': ['count>0'],
    'iterations{scenario:arrivals}': ['count>0'], hits: ['count>0'],
  },
};
export function setup() { return { token: 'abc', n: 42 }; }
export default function (data) {
  hits.add(2);
  check(data, { 'setup data here': (d) => d && d.token === 'abc' && d.n === 42 });
  if (exec.vu.iterationInScenario === 0) console.log('vu ' + exec.vu.idInTest + ' ' + exec.scenario.name);
}
"""


def _cli(args: list[str], tmp_path: Path, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "jsrunner", "run", *args], cwd=tmp_path, env=full,
                          capture_output=True, text=True, timeout=timeout)


def _metrics(path: Path) -> dict:
    return json.loads(path.read_text())["metrics"]


def test_same_counts_with_one_and_two_workers(tmp_path: Path) -> None:
    script = write_script(tmp_path, COUNTS)
    results = {}
    for n in (1, 2):
        export = tmp_path / f"s{n}.json"
        proc = _cli(["-q", "--workers", str(n), f"--summary-export={export}", str(script)], tmp_path)
        assert proc.returncode == 0, proc.stderr
        m = _metrics(export)
        results[n] = {
            "iterations": m["iterations"]["count"], "hits": m["hits"]["count"],
            "checks": (m["checks"]["passes"], m["checks"]["fails"]),
            "shared": m["iterations{scenario:shared}"]["count"],
            "pervu": m["iterations{scenario:pervu}"]["count"],
            # each scheduled start either ran or was dropped (the first one may find no idle VU)
            "scheduled": m["iterations{scenario:arrivals}"]["count"] + m.get("dropped_iterations", {}).get("count", 0),
        }
        ran = m["iterations"]["count"]
        assert m["hits"]["count"] == 2 * ran and m["checks"]["passes"] == ran
        lines = [ln for ln in proc.stderr.splitlines() if "msg=\"vu " in ln]
        seen = [ln.split('msg="vu ')[1].split('"')[0] for ln in lines]
        # forwarded from the workers; VU ids in the test are unique across workers
        assert seen and len(seen) == len(set(seen))
        assert len([s for s in seen if s.endswith("pervu")]) == 3
    for n in (1, 2):
        assert results[n]["shared"] == 101 and results[n]["pervu"] == 21 and results[n]["scheduled"] == 40
        assert results[n]["checks"][1] == 0
    same = ("shared", "pervu", "scheduled")
    assert {k: results[1][k] for k in same} == {k: results[2][k] for k in same}


def test_output_shape_matches_single_process(tmp_path: Path) -> None:
    script = write_script(tmp_path, """
    export const options = { vus: 2, iterations: 10, thresholds: { iterations: ['count<5'] } };
    export default function () {}
    """)
    one = _cli(["--workers", "1", str(script)], tmp_path)
    two = _cli(["--workers", "2", str(script)], tmp_path)
    assert one.returncode == two.returncode == 99  # the threshold fails across workers too
    for proc in (one, two):
        assert "2 max VUs" in proc.stdout and "THRESHOLDS" in proc.stdout
        assert re.search(r"iterations\.+: 10 ", proc.stdout), proc.stdout
        assert "thresholds on metrics 'iterations' have been crossed" in proc.stderr

    def shape(text: str) -> list[str]:
        # the summary and threshold lines (progress blocks depend on timing: left out)
        start = text.index("THRESHOLDS")
        return [ln.split(":")[0].strip(". ") for ln in text[start:].splitlines()
                if ln.strip() and not ln.startswith(("running", "Init", "Run ")) and "default" not in ln
                and not ln.strip().startswith(("vus", "vus_max"))]

    assert shape(one.stdout) == shape(two.stdout)


def test_abort_on_fail_stops_every_worker(tmp_path: Path) -> None:
    script = write_script(tmp_path, """
    import { Counter } from 'k6/metrics';
    import { sleep } from 'k6';
    const hits = new Counter('hits');
    export const options = { vus: 4, duration: '30s',
      thresholds: { hits: [{ threshold: 'count<20', abortOnFail: true }] } };
    export default function () { hits.add(1); sleep(0.05); }
    """)
    t0 = time.monotonic()
    proc = _cli(["-q", "--workers", "2", str(script)], tmp_path)
    assert proc.returncode == 99, proc.stderr
    assert time.monotonic() - t0 < 15
    assert "abortOnFail enabled, stopping test prematurely" in proc.stderr


def test_script_abort_in_one_worker_ends_the_run(tmp_path: Path) -> None:
    script = write_script(tmp_path, """
    import exec from 'k6/execution';
    import { sleep } from 'k6';
    export const options = { vus: 4, duration: '30s' };
    export default function () {
      if (exec.vu.idInTest === 4 && exec.vu.iterationInInstance === 3) exec.test.abort('enough');
      sleep(0.05);
    }
    """)
    t0 = time.monotonic()
    proc = _cli(["-q", "--workers", "2", str(script)], tmp_path)
    assert proc.returncode == 108, proc.stderr
    assert "test aborted: enough" in proc.stderr
    assert time.monotonic() - t0 < 15


# ---- faults and signals ----------------------------------------------------------------------
def _cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return -1


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _segment_workers(marker: str, coordinator: int) -> list[int]:
    """The run's segment workers: the coordinator's children (forked or spawned; the
    first one, the host, runs a segment too)."""
    return [p for p in procs_with(marker) if _ppid(p) == coordinator]


class _Run:
    """``jsrunner run --workers 2`` in the background; stderr collected as it comes."""

    def __init__(self, script: Path, tmp_path: Path, marker: str, stdout: bool = False) -> None:
        env = dict(os.environ, JSRUNNER_TEST_MARKER=marker)
        self.out_file = tmp_path / f"stdout-{marker}.txt"
        self.proc = subprocess.Popen([sys.executable, "-m", "jsrunner", "run", "-q", "--workers", "2", str(script)],
                                     cwd=tmp_path, env=env,
                                     stdout=self.out_file.open("w") if stdout else subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.err: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err.append(line)

    def wait_for(self, text: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.err):
                return
            time.sleep(0.05)
        raise AssertionError(f"{text!r} never appeared: {''.join(self.err)}")

    def finish(self, timeout: float = 30.0) -> tuple[int, str]:
        try:
            code = self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self._reader.join(5)
        return code, "".join(self.err)

    @property
    def out(self) -> str:
        return self.out_file.read_text() if self.out_file.exists() else ""


def _wait_workers(marker: str, coordinator: int, n: int, timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = _segment_workers(marker, coordinator)
        if len(pids) >= n:
            return pids
        time.sleep(0.05)
    raise AssertionError("workers did not start")


def test_killed_worker_ends_the_run_cleanly(tmp_path: Path) -> None:
    script = write_script(tmp_path, """
    import exec from 'k6/execution';
    import { sleep } from 'k6';
    export const options = { vus: 4, duration: '40s' };
    export default function () {
      if (exec.vu.idInTest === 1 && exec.vu.iterationInInstance === 3) { console.log('spinning'); for (;;) {} }
      sleep(0.05);
    }
    """)
    marker = f"workers-{uuid.uuid4()}"
    run = _Run(script, tmp_path, marker)
    run.wait_for("spinning")
    pids = _wait_workers(marker, run.proc.pid, 2)
    t0 = {p: _cpu_ticks(p) for p in pids}
    time.sleep(0.5)
    stuck = max(pids, key=lambda p: _cpu_ticks(p) - t0[p])  # the one spinning in JS
    os.kill(stuck, signal.SIGKILL)
    code, err = run.finish()
    assert code not in (0, None)
    assert "exited with code -9" in err and "level=error" in err, err
    assert wait_gone(marker) == []


def _host_of(marker: str, coordinator: int) -> int | None:
    """The host (worker 1, which also runs setup/teardown/handleSummary): forked workers
    name themselves in comm, spawned ones carry their mode on the command line."""
    for pid in _segment_workers(marker, coordinator):
        try:
            with open(f"/proc/{pid}/comm") as fh:
                comm = fh.read().strip()
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                argv = fh.read().split(b"\0")
        except OSError:
            continue
        if comm == "jsr-host" or b"host" in argv[-3:]:
            return pid
    return None


def test_killed_host_still_gets_teardown_and_summary(tmp_path: Path) -> None:
    """The host (worker 1) dies: reported, the run ends non-zero, and teardown() and
    handleSummary() still run once each (in a new child), no orphans."""
    script = write_script(tmp_path, """
    import { sleep } from 'k6';
    export const options = { vus: 2, duration: '40s' };
    export function teardown() { console.log('teardown ran'); }
    export function handleSummary() { return { stdout: 'summary ran\\n' }; }
    export default function () { console.log('iterating'); sleep(0.2); }
    """)
    marker = f"workers-{uuid.uuid4()}"
    run = _Run(script, tmp_path, marker, stdout=True)
    run.wait_for("iterating")
    _wait_workers(marker, run.proc.pid, 2)
    host = _host_of(marker, run.proc.pid)
    assert host is not None
    os.kill(host, signal.SIGKILL)
    code, err = run.finish()
    assert code == 255, err
    assert "worker 1 exited with code -9" in err, err
    assert err.count("teardown ran") == 1, err
    assert run.out.count("summary ran") == 1, run.out
    assert wait_gone(marker) == []


def test_ctrl_c_stops_every_worker_gracefully(tmp_path: Path) -> None:
    script = write_script(tmp_path, """
    import { sleep } from 'k6';
    import exec from 'k6/execution';
    export const options = { vus: 4, duration: '40s' };
    export function teardown() { console.log('teardown ran'); }
    export default function () { if (exec.vu.iterationInInstance === 2) console.log('iterating'); sleep(0.05); }
    """)
    marker = f"workers-{uuid.uuid4()}"
    run = _Run(script, tmp_path, marker)
    run.wait_for("iterating")
    run.proc.send_signal(signal.SIGINT)
    code, err = run.finish()
    assert code == 105, err
    assert "teardown ran" in err
    assert "received a 'interrupt' signal" in err
    assert wait_gone(marker) == []


def test_second_ctrl_c_hard_stops_a_stuck_worker(tmp_path: Path) -> None:
    script = write_script(tmp_path, """
    import exec from 'k6/execution';
    import { sleep } from 'k6';
    export const options = { vus: 2, duration: '40s' };
    export default function () {
      if (exec.vu.idInTest === 2 && exec.vu.iterationInInstance === 2) { console.log('spinning'); for (;;) {} }
      sleep(0.05);
    }
    """)
    marker = f"workers-{uuid.uuid4()}"
    run = _Run(script, tmp_path, marker)
    run.wait_for("spinning")
    run.proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    second = run.proc.poll() is None  # the first one may already have ended it
    if second:
        run.proc.send_signal(signal.SIGINT)
    code, err = run.finish(20)
    assert code == 105
    if second:
        assert "Aborting k6 in response to signal" in err or "received a 'interrupt' signal" in err
    assert wait_gone(marker) == []


# ---- the segment function on its own -------------------------------------------------------
def test_run_segment_in_process_adds_up(tmp_path: Path) -> None:
    """Two segments run in this process via ``run_segment`` add up to the whole test."""
    from jsrunner.metrics.engine import MetricsEngine
    script = write_script(tmp_path, """
    import { Counter } from 'k6/metrics';
    const c = new Counter('cnt');
    export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 3, iterations: 50 } } };
    export default function (data) { c.add(data.k); }
    """)
    cfg = config_to_dict(RunConfig(script=str(script), include_system_env=False))
    engine = MetricsEngine()
    kinds: list[str] = []
    for et in split_tuples(2):
        msgs: list[dict] = []
        run_segment(str(script), cfg, str(et.segment), str(et.sequence), '{"k": 3}', msgs.append,
                    control=Control(started=True))
        kinds += [m["type"] for m in msgs]
        for m in msgs:
            if m["type"] == "update" and m.get("snapshot"):
                engine.merge(m["snapshot"])
        assert msgs[-1]["type"] == "done" and msgs[-1]["code"] == 0
    assert "ready" in kinds
    assert engine.sink("cnt").count == 150
    assert engine.sink("iterations").count == 50
