"""``jsrunner serve``, ``jsrunner run --serve`` and ``jsrunner demo`` (in this checkout)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import websocket

from .helpers import run_cli, write_script

ECHO = """
    import { WebSocket } from 'k6/websockets';
    import { check } from 'k6';
    export const options = { iterations: 1, thresholds: { checks: ['rate==1'] } };
    export default function () {
      console.log(`WS_URL=${__ENV.WS_URL}`);
      check(__ENV, {
        'ws url': (e) => /^ws:\\/\\/127\\.0\\.0\\.1:\\d+$/.test(e.WS_URL),
        'base url': (e) => e.BASE_URL === e.WS_URL.replace('ws://', 'http://'),
      });
      const ws = new WebSocket(`${__ENV.WS_URL}/echo`);
      ws.onopen = () => ws.send('ping?');
      ws.onmessage = (e) => { check(e.data, { 'echoed': (d) => d === 'ping?' }); ws.close(); };
    }
"""


def test_serve_prints_url_and_serves_until_sigterm() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "jsrunner", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()  # type: ignore[union-attr]
        assert line.startswith("jsrunner test server listening on ws://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1]
        ws = websocket.create_connection(url + "/echo", timeout=5)
        ws.send("hello")
        assert ws.recv() == "hello"
        ws.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert "/ws/crocochat/<room>/" in err  # the endpoint list


def test_serve_port_in_use_is_one_error_line() -> None:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        out = run_cli("serve", "--port", str(port), timeout=30)
    assert out.exit_code == 255
    assert f"cannot listen on 127.0.0.1:{port}" in out.stderr and "Traceback" not in out.stderr


def test_run_serve_sets_ws_url(tmp_path: Path) -> None:
    path = write_script(tmp_path, ECHO)
    out = run_cli("run", "-q", "--serve", str(path), env={"WS_URL": "ws://example.invalid"})
    assert out.exit_code == 0, out.stdout + out.stderr
    assert "bundled test server listening on ws://127.0.0.1:" in out.stderr
    assert "✓ echoed" in out.stdout
    assert out.console[0].startswith("WS_URL=ws://127.0.0.1:") and "example.invalid" not in out.console[0]

    # -e wins over the server's URL
    own = run_cli("run", "-q", "--serve", "-e", "WS_URL=ws://127.0.0.1:9", str(path))
    assert own.console[0] == "WS_URL=ws://127.0.0.1:9"


def test_demo_short_run() -> None:
    env = {k: v for k, v in os.environ.items() if k != "WS_URL"}
    proc = subprocess.run([sys.executable, "-m", "jsrunner", "demo", "-d", "1s", "-u", "1"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "jsrunner demo:" in proc.stderr and "bundled test server listening on" in proc.stderr
    assert "1 looping VUs for 1s" in proc.stdout
    assert "█ TOTAL RESULTS" in proc.stdout and "ws_sessions" in proc.stdout
    assert "received: Croc 1:" in proc.stderr
