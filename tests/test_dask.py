"""Runs on a Dask cluster (``--dask``): same counts as in-process, setup data everywhere,
thresholds, a lost worker, Ctrl-C, and no process left behind.

One LocalCluster (2 worker processes) is shared by the module; the fault tests start their
own with ``--dask local:2`` so that killing a worker cannot disturb the others.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

distributed = pytest.importorskip("distributed")

from jsrunner.dask_runner import local_files, make_bundle, materialize, parse_target  # noqa: E402
from jsrunner.errors import CommandLineError  # noqa: E402

from .helpers import cmdline, procs_with, wait_gone, write_script  # noqa: E402

pytestmark = pytest.mark.slow

COUNTS = """
import { Counter } from 'k6/metrics';
import { check } from 'k6';
import exec from 'k6/execution';
import { double } from './lib/util.js';
const hits = new Counter('hits');
const table = JSON.parse(open('./data/table.json'));
export const options = {
  scenarios: {
    shared: { executor: 'shared-iterations', vus: 3, iterations: 101 },
    pervu: { executor: 'per-vu-iterations', vus: 4, iterations: 5, startTime: '10ms' },
  },
  thresholds: { 'iterations{scenario:shared}': ['count>0'], 'iterations{scenario:pervu}': ['count>0'] },
};
export function setup() { return { token: 'abc', n: 42 }; }
export default function (data) {
  hits.add(double(table.one));
  check(data, { 'setup data here': (d) => d && d.token === 'abc' && d.n === 42 });
  if (exec.vu.iterationInScenario === 0) console.log(`vu ${exec.vu.idInTest} ${exec.scenario.name} ${data.token}`);
}
"""


@pytest.fixture(scope="module")
def scheduler() -> str:
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=":0", silence_logs=50)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def _cli(args: list[str], cwd: Path, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "jsrunner", "run", *args], cwd=cwd, env=dict(os.environ, **(env or {})),
                          capture_output=True, text=True, timeout=timeout)


def _counts_script(tmp_path: Path) -> Path:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "util.js").write_text("export function double(x) { return 2 * x; }\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "table.json").write_text('{"one": 1}')
    return write_script(tmp_path, COUNTS)


# ---- shipping (no cluster) -------------------------------------------------------------------
def test_the_test_is_shipped_with_its_modules_and_files(tmp_path: Path) -> None:
    script = _counts_script(tmp_path)
    files = local_files(str(script))
    assert {os.path.relpath(f, tmp_path) for f in files} == {
        os.path.basename(script), os.path.join("lib", "util.js"), os.path.join("data", "table.json")}
    bundle = make_bundle(str(script), files)
    dest = tmp_path / "elsewhere"
    moved = Path(materialize(bundle, str(dest)))
    assert moved.read_text() == script.read_text()
    assert (moved.parent / "lib" / "util.js").is_file() and (moved.parent / "data" / "table.json").is_file()
    assert parse_target("local") == (None, 2) and parse_target("local:3") == (None, 3)
    assert parse_target("tcp://h:8786") == ("tcp://h:8786", 0)
    with pytest.raises(CommandLineError):
        parse_target("local:0")


# ---- on the shared cluster -------------------------------------------------------------------
def test_same_counts_as_in_process_and_setup_data_everywhere(tmp_path: Path, scheduler: str) -> None:
    script = _counts_script(tmp_path)
    results = {}
    for name, flags in (("local", ["--workers", "1"]), ("dask", ["--dask", scheduler])):
        export = tmp_path / f"{name}.json"
        proc = _cli(["-q", *flags, f"--summary-export={export}", str(script)], tmp_path)
        assert proc.returncode == 0, proc.stderr
        m = json.loads(export.read_text())["metrics"]
        results[name] = (m["iterations"]["count"], m["hits"]["count"], m["checks"]["passes"], m["checks"]["fails"],
                         m["iterations{scenario:shared}"]["count"], m["iterations{scenario:pervu}"]["count"])
        seen = sorted(ln.split('msg="vu ')[1].split('"')[0] for ln in proc.stderr.splitlines() if 'msg="vu ' in ln)
        # every per-VU VU (striped over both segments) logged the setup data, each under its own id
        pervu = [s for s in seen if s.endswith(" pervu abc")]
        assert len(pervu) == len(set(pervu)) == 4, proc.stderr
        results[name] += (tuple(pervu),)
    assert results["dask"] == results["local"]
    assert results["dask"][:6] == (121, 242, 121, 0, 101, 20)


def test_failing_threshold_fails_the_run(tmp_path: Path, scheduler: str) -> None:
    script = write_script(tmp_path, """
    export const options = { vus: 2, iterations: 10, thresholds: { iterations: ['count<5'] } };
    export default function () {}
    """)
    proc = _cli(["--dask", scheduler, str(script)], tmp_path)
    assert proc.returncode == 99, proc.stderr
    assert "thresholds on metrics 'iterations' have been crossed" in proc.stderr
    assert "✗ 'count<5' count=10" in proc.stdout


# ---- faults: each with its own --dask local:2 -------------------------------------------------
LONG = """
import { sleep } from 'k6';
import exec from 'k6/execution';
export const options = { vus: 4, duration: '40s' };
export function teardown() { console.log('teardown ran'); }
export default function () {
  if (exec.vu.iterationInInstance === 0) console.log(`running ${exec.vu.idInTest}`);
  sleep(0.05);
}
"""


class _Run:
    """``jsrunner run -q --dask local:2`` in the background, stderr collected as it comes."""

    def __init__(self, tmp_path: Path, marker: str) -> None:
        script = write_script(tmp_path, LONG)
        self.proc = subprocess.Popen([sys.executable, "-m", "jsrunner", "run", "-q", "--dask", "local:2", str(script)],
                                     cwd=tmp_path, env=dict(os.environ, JSRUNNER_TEST_MARKER=marker),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line)

    def wait_running(self, vus: int = 4, timeout: float = 30) -> None:
        """Until every VU of both segments has run (their console lines reach the client)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            seen = {ln.split('msg="running ')[1].split('"')[0] for ln in list(self.lines) if 'msg="running ' in ln}
            if len(seen) >= vus:
                return
            time.sleep(0.05)
        raise AssertionError("".join(self.lines))

    def finish(self, timeout: float = 45) -> tuple[str, str]:
        try:
            self.proc.wait(timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self.reader.join(5)
        return out, "".join(self.lines)


def test_killed_worker_ends_the_run_with_an_error_and_no_leftovers(tmp_path: Path) -> None:
    marker = f"dask-{uuid.uuid4()}"
    run = _Run(tmp_path, marker)
    try:
        run.wait_running()
        workers = [p for p in procs_with(marker) if "multiprocessing.spawn import spawn_main" in cmdline(p)]
        assert len(workers) == 2, [cmdline(p) for p in procs_with(marker)]
        os.kill(workers[0], signal.SIGKILL)
    finally:
        out, err = run.finish()
    assert run.proc.returncode == 255, err
    assert "was lost" in err and "level=error" in err, err
    assert wait_gone(marker) == []


def test_ctrl_c_stops_every_segment_and_leaves_nothing(tmp_path: Path) -> None:
    marker = f"dask-{uuid.uuid4()}"
    run = _Run(tmp_path, marker)
    try:
        run.wait_running()
        run.proc.send_signal(signal.SIGINT)
    finally:
        out, err = run.finish()
    assert run.proc.returncode == 105, err
    assert "received a 'interrupt' signal" in err and "teardown ran" in err
    assert "iterations" in out
    assert wait_gone(marker) == []
