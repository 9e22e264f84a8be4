"""Run scripts through the public surfaces (Python API and CLI) and parse what they print."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsrunner.runner import RunConfig, Runner

_MSG = re.compile(r'msg=("(?:[^"\\]|\\.)*"|\S*)')


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def log_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.startswith("time=")]

    def messages(self, level: str | None = None, console: bool | None = None) -> list[str]:
        out = []
        for line in self.log_lines:
            if level is not None and f"level={level} " not in line + " ":
                continue
            if console is not None and (("source=console" in line) != console):
                continue
            m = _MSG.search(line)
            if not m:
                out.append("")
                continue
            raw = m.group(1)
            out.append(json.loads(raw) if raw.startswith('"') else raw)
        return out

    @property
    def console(self) -> list[str]:
        return self.messages(console=True)


def write_script(tmp_path: Path, source: str, name: str = "script.js") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


def run_script(tmp_path: Path, source: str, **cfg: Any) -> Outcome:
    """Run JS source in-process through the Runner (the engine behind ``jsrunner.run``)."""
    path = write_script(tmp_path, source)
    return run_file(path, **cfg)


def run_file(path: Path, **cfg: Any) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    cfg.setdefault("quiet", True)
    cfg.setdefault("include_system_env", False)
    config = RunConfig(script=str(path), stdout=out, stderr=err, **cfg)
    result = Runner(config).run()
    return Outcome(result.exit_code, out.getvalue(), err.getvalue())


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> Outcome:
    """Run ``python -m jsrunner`` in a subprocess, like a user would."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([sys.executable, "-m", "jsrunner", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


# ---- processes of a run, found by a marker in their environment (/proc scan, Linux) ----------
def procs_with(marker: str) -> list[int]:
    """PIDs whose environment holds ``marker`` (psutil-free /proc scan)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if marker.encode() in fh.read():
                    found.append(int(entry))
        except OSError:
            continue
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def wait_gone(marker: str, timeout: float = 10.0) -> list[int]:
    """Wait up to ``timeout`` s for the processes with ``marker`` to end; those still there."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not procs_with(marker):
            return []
        time.sleep(0.1)
    return procs_with(marker)
