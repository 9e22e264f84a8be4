"""Every script in samples/ passes through the pytest plugin against the bundled test server.

Each sample runs in its own ``python -m pytest samples/<file> -o jsrunner_serve=true``
subprocess, exactly as a user would run them, so the regression suite covers the samples,
the plugin's collection/outcome path and the bundled server together.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from jsrunner.pytest_plugin import K6ScriptItem

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
SAMPLE_FILES = sorted(p.name for p in SAMPLES.glob("*.k6.js"))


def _pytest(*args: str, tmp_path: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("PYTEST_XDIST_WORKER", None)
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run([sys.executable, "-m", "pytest", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_the_expected_samples_exist() -> None:
    assert {"chat.k6.js", "websockets_echo.k6.js", "timers.k6.js", "legacy_ws.k6.js",
            "checks_groups.k6.js", "custom_metrics.k6.js"} <= set(SAMPLE_FILES)
    for name in SAMPLE_FILES:
        head = (SAMPLES / name).read_text(encoding="utf-8").splitlines()[0]
        assert head.startswith(f"// {name}:"), f"{name} must say what it shows in its first line"


def test_chat_sample_is_the_bundled_demo_script() -> None:
    link = SAMPLES / "chat.k6.js"
    bundled = REPO / "jsrunner" / "samples_bundled" / "chat.k6.js"
    assert link.is_symlink() and link.resolve() == bundled.resolve()
    from jsrunner.cli import demo_script
    assert Path(demo_script()).resolve() == bundled.resolve()
    source = bundled.read_text(encoding="utf-8")
    for needle in ("from 'k6/experimental/websockets'", "from 'k6/experimental/timers'", "__ENV.WS_URL",
                   "ws://127.0.0.1:8765", "SET_NAME", "SAY", "LEAVE", "setInterval", "setTimeout",
                   "i < 4", "thresholds"):
        assert needle in source


@pytest.mark.parametrize("name", SAMPLE_FILES)
def test_sample_passes_through_the_plugin(name: str, tmp_path: Path) -> None:
    xml = tmp_path / "junit.xml"
    proc = _pytest(f"samples/{name}", "-o", "jsrunner_serve=true", "-p", "no:cacheprovider",
                   "-q", "-rA", f"--junitxml={xml}", tmp_path=tmp_path)
    report = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, report
    cases = list(ET.parse(xml).getroot().iter("testcase"))
    assert len(cases) == 1 and cases[0].find("failure") is None and cases[0].find("error") is None, report
    props = {p.get("name"): p.get("value") for p in cases[0].iter("property")}
    assert props["exit_code"] == "0" and int(props["iterations"]) > 0, props
    assert props.get("checks_failed", "0") == "0"


def test_plugin_collects_exactly_the_samples(tmp_path: Path) -> None:
    proc = _pytest("samples", "--collect-only", "-q", "-p", "no:cacheprovider", tmp_path=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    assert ids == [f"samples/{n}::{n[: -len('.k6.js')]}" for n in SAMPLE_FILES]


def test_this_test_run_collected_no_k6_scripts(request: pytest.FixtureRequest) -> None:
    # testpaths = ["tests"]: the plugin is installed but must not add items to our own suite
    assert not [item for item in request.session.items if isinstance(item, K6ScriptItem)]
