"""The README's first command works on a fresh machine: a real fresh virtualenv, a regular
(non-editable) install of this checkout, then ``jsrunner demo`` — only 127.0.0.1 traffic.

The install may use pip's cache and the package index (for dukpy, websockets,
websocket-client and the build backend); nothing else leaves the machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIRST_COMMAND = "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && jsrunner demo"
_IGNORE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "*.egg-info", "__pycache__",
                                 ".pytest_cache", "*.pyc")


def _readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"## Quick start\s+```sh\n(.*?)```", text, re.S)
    assert block, "README.md must keep its Quick start block"
    return [line.strip() for line in block.group(1).splitlines() if line.strip()]


def test_readme_quick_start_commands_unchanged() -> None:
    assert _readme_commands() == [FIRST_COMMAND, "python -m pytest -n 2 -q"]


def _clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "PYTEST_ADDOPTS", "WS_URL", "BASE_URL")
           and not k.startswith(("PYTEST_", "K6_"))}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    return env


@pytest.mark.slow
def test_fresh_venv_install_then_demo(tmp_path: Path) -> None:
    started = time.monotonic()
    src = tmp_path / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=_IGNORE)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=60)
    python = venv / "bin" / "python"
    env = _clean_env(venv)
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", str(src)], env=env,
                             cwd=tmp_path, capture_output=True, text=True, timeout=150)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    shutil.rmtree(src)  # the installed package must not need the checkout

    where = subprocess.run([str(python), "-c", "import jsrunner; print(jsrunner.__file__)"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, timeout=30, check=True)
    assert where.stdout.strip().startswith(str(venv)), where.stdout

    demo_started = time.monotonic()
    demo = subprocess.run([str(venv / "bin" / "jsrunner"), "demo"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=90)
    demo_seconds = time.monotonic() - demo_started
    report = demo.stdout[-4000:] + "\n--- stderr ---\n" + demo.stderr[-3000:]
    assert demo.returncode == 0, report
    assert re.search(r"bundled test server listening on ws://127\.0\.0\.1:\d+", demo.stderr), report
    assert "samples_bundled/chat.k6.js" in demo.stdout  # the banner names the bundled script
    assert "running (" in demo.stdout  # live progress
    for needle in ("█ THRESHOLDS", "█ TOTAL RESULTS", "ws_sessions", "ws_msgs_received",
                   "✓ server message has a known event"):
        assert needle in demo.stdout, report
    assert "✗" not in demo.stdout, report
    assert "received: Croc" in demo.stderr and "leaving the chat" in demo.stderr
    assert "level=error" not in demo.stderr, report
    assert demo_seconds < 30, f"demo took {demo_seconds:.1f}s"
    assert time.monotonic() - started < 170
