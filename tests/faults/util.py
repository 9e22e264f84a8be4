"""Helpers of the fault suite: run ``python -m jsrunner run`` like a user, bounded in time."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import Outcome

#: a run that outlives this is a hang (each test passes its own, smaller bound)
DEFAULT_TIMEOUT = 30.0


@dataclass
class Run(Outcome):
    elapsed: float = 0.0
    export: dict[str, Any] | None = None

    def count(self, metric: str, field: str = "count") -> float:
        assert self.export is not None, "run with export=True"
        m = self.export["metrics"].get(metric)
        return 0 if m is None else m.get(field, 0)

    def errors(self) -> list[str]:
        return self.messages("error")


def free_port() -> int:
    """A port nobody listens on (connection refused)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def script(tmp_path: Path, source: str, name: str = "script.js") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def jsr_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("K6_", "JSRUNNER_"))}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


def run(path: Path, *args: str, timeout: float = DEFAULT_TIMEOUT, workers: int | None = 1,
        export: bool = False, env: dict[str, str] | None = None, cwd: Path | None = None) -> Run:
    """Run a script through the CLI; fail the test on a hang or a Python traceback."""
    argv = [sys.executable, "-m", "jsrunner", "run", "-q"]
    if workers is not None:
        argv += ["--workers", str(workers)]
    export_path = path.parent / f"{path.stem}-export.json"
    if export:
        argv += ["--summary-export", str(export_path)]
    argv += [*args, str(path)]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=jsr_env(env),
                              cwd=cwd or path.parent)
    except subprocess.TimeoutExpired as exc:  # pragma: no cover - the failure being tested for
        raise AssertionError(f"jsrunner hung (> {timeout}s): {' '.join(argv)}\n"
                             f"stderr: {(exc.stderr or b'')[-3000:]!r}") from None
    out = Run(proc.returncode, proc.stdout, proc.stderr, elapsed=time.monotonic() - t0)
    assert_clean(out, verbose="-v" in args or "--verbose" in args)
    if export and export_path.exists():
        out.export = json.loads(export_path.read_text())
    return out


def assert_clean(out: Outcome, verbose: bool = False) -> None:
    """No traceback, every stderr line a log line (k6 shape)."""
    text = out.stderr + out.stdout
    if not verbose:
        assert "Traceback (most recent call last)" not in text, text[-4000:]
        assert "Exception ignored" not in text, text[-4000:]
        for line in out.stderr.splitlines():
            assert line.startswith("time=") or line.startswith("bundled test server") or not line.strip(), \
                f"stray stderr line: {line!r}\n{out.stderr[-3000:]}"


class Proc:
    """A run in the background (for signals and for servers changing under it)."""

    def __init__(self, path: Path, *args: str, workers: int | None = 1, env: dict[str, str] | None = None) -> None:
        argv = [sys.executable, "-m", "jsrunner", "run", "-q"]
        if workers is not None:
            argv += ["--workers", str(workers)]
        argv += [*args, str(path)]
        self.err_path = path.parent / f"{path.stem}.stderr"
        self.out_path = path.parent / f"{path.stem}.stdout"
        self._err = open(self.err_path, "w")  # noqa: SIM115 - closed in finish()
        self._out = open(self.out_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen(argv, stdout=self._out, stderr=self._err, env=jsr_env(env),
                                     cwd=path.parent, start_new_session=True)
        self.t0 = time.monotonic()

    def stderr(self) -> str:
        return self.err_path.read_text()

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.stderr():
            if self.proc.poll() is not None:
                raise AssertionError(f"run ended before {text!r}: {self.stderr()[-3000:]}")
            if time.monotonic() > deadline:
                self.kill()
                raise AssertionError(f"{text!r} not seen in {timeout}s: {self.stderr()[-3000:]}")
            time.sleep(0.02)

    def signal(self, sig: int = signal.SIGINT) -> None:
        self.proc.send_signal(sig)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass

    def finish(self, timeout: float = 20.0) -> Run:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait(5)
            raise AssertionError(f"jsrunner hung: {self.stderr()[-3000:]}") from None
        finally:
            self._err.close()
            self._out.close()
        out = Run(self.proc.returncode, self.out_path.read_text(), self.stderr(),
                  elapsed=time.monotonic() - self.t0)
        assert_clean(out)
        return out

    def rss_mb(self) -> float:
        """Resident set size of the run's process (Linux)."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0


def one_line(msg: str) -> bool:
    """A log message that is one line (stack traces end with frames, which are fine)."""
    return "\n" not in msg.rstrip("\n") or "\tat " in msg


