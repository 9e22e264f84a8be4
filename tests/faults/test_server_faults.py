"""A WebSocket server that misbehaves: every run ends on time, cleanly, with k6's events.

Event texts were checked against k6 v1.1.0 (``k6/experimental/websockets``) talking to
the same misbehaving server (``badserver.py``).
"""

from __future__ import annotations

import json
import time

import pytest

from .util import Proc, free_port, run, script

# One socket per iteration; every event logged as "ev <name> <details>".
EVENTS = """
import { WebSocket } from 'k6/websockets';
export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 1, iterations: 1,
                                           maxDuration: __ENV.MAXD || '5s', gracefulStop: '0s' } } };
export default function () {
  const ws = new WebSocket(__ENV.URL);
  let n = 0;
  ws.onopen = () => { console.log('ev open'); for (let i = 0; i < 3; i++) ws.send('m' + i); };
  ws.onmessage = (e) => { n++; console.log('ev message ' + JSON.stringify(String(e.data))); };
  ws.onerror = (e) => console.log('ev error ' + e.error);
  ws.onclose = (e) => console.log('ev close ' + e.code + ' ' + n);
}
"""


def events(out) -> list[str]:
    return [m[3:] for m in out.console if m.startswith("ev ")]


def test_connection_refused(tmp_path):
    port = free_port()
    out = run(script(tmp_path, EVENTS), "-e", f"URL=ws://127.0.0.1:{port}/echo", timeout=20)
    assert out.exit_code == 0
    assert events(out) == [f"error dial tcp 127.0.0.1:{port}: connect: connection refused", "close undefined 0"]
    assert "1 complete" in out.stdout or "iterations" in out.stdout


def test_reset_during_the_handshake(tmp_path, bad):
    out = run(script(tmp_path, EVENTS), "-e", f"URL={bad.url}/rst-handshake", timeout=20)
    assert out.exit_code == 0
    ev = events(out)
    assert len(ev) == 2 and ev[1] == "close undefined 0", ev
    assert ev[0].startswith("error read tcp 127.0.0.1:") and ev[0].endswith(": read: connection reset by peer"), ev


def test_reset_mid_stream_closes_the_socket(tmp_path, bad):
    out = run(script(tmp_path, EVENTS), "-e", f"URL={bad.url}/echo?rst_after=1", export=True, timeout=20)
    assert out.exit_code == 0
    ev = events(out)
    # k6 v1.1 fires no error event for a reset after the handshake, only close
    assert ev[0] == "open" and ev[-1].startswith("close "), ev
    assert not [e for e in ev if e.startswith("error")], ev
    assert out.count("iterations") == 1
    assert not out.errors()


def test_close_without_a_close_frame(tmp_path, bad):
    out = run(script(tmp_path, EVENTS), "-e", f"URL={bad.url}/echo?fin_after=3", timeout=20)
    assert out.exit_code == 0
    assert events(out) == ["open", 'message "m0"', 'message "m1"', 'message "m2"',
                           "error websocket: close 1006 (abnormal closure): unexpected EOF", "close 1006 3"]


def test_handshake_that_never_completes_ends_with_the_scenario(tmp_path, bad):
    out = run(script(tmp_path, EVENTS), "-e", f"URL={bad.url}/hang-handshake", "-e", "MAXD=1s", timeout=20)
    assert out.exit_code == 0
    assert events(out) == []  # interrupted: no handler runs any more
    assert out.elapsed < 10
    assert "No script iterations fully finished, consider making the test duration longer" in out.messages("warning")
    bad.wait(("/hang-handshake"), lambda s: s.connections == 1)


def test_invalid_utf8_text_frame_is_delivered_with_replacement_characters(tmp_path, bad):
    src = EVENTS.replace("ws.onmessage = (e) => { n++;", "ws.onmessage = (e) => { n++; if (n === 4) ws.close();")
    out = run(script(tmp_path, src), "-e", f"URL={bad.url}/badutf8", timeout=20)
    assert out.exit_code == 0
    ev = events(out)
    assert ev[:2] == ["open", 'message "bad \ufffd\ufffd utf8 \ufffd("'], ev
    assert ev[-1] == "close 1000 4", ev
    assert bad.stats("/badutf8").clean_closes == 1


HALF_OPEN = """
import { WebSocket } from 'k6/websockets';
export const options = { scenarios: { s: { executor: 'shared-iterations', vus: 1, iterations: 1,
                                           maxDuration: '3s', gracefulStop: '0s' } } };
export default function () {
  const ws = new WebSocket(__ENV.URL);
  let lastPong = Date.now();
  let timer;
  ws.onopen = () => {
    timer = setInterval(() => {
      if (Date.now() - lastPong > 600) { console.log('ping timeout'); clearInterval(timer); ws.close(); return; }
      ws.ping();
    }, 100);
  };
  ws.onpong = () => { lastPong = Date.now(); };
  ws.onclose = (e) => { clearInterval(timer); console.log('closed ' + e.code); };
}
"""


def test_half_open_peer_is_detected_by_the_scripts_ping_timeout(tmp_path, bad):
    out = run(script(tmp_path, HALF_OPEN), "-e", f"URL={bad.url}/silent", timeout=20)
    assert out.exit_code == 0
    assert "ping timeout" in out.console
    # the peer never answers the Close frame either: the iteration ends with the scenario
    # (k6 v1.1 waits for the Close reply forever); it must not hang the run
    assert out.elapsed < 12
    # a live peer answers the pings: no timeout, the socket stays open until the end
    out2 = run(script(tmp_path, HALF_OPEN, "live.js"), "-e", f"URL={bad.url}/echo", timeout=20)
    assert "ping timeout" not in out2.console
    assert bad.stats("/echo").pings >= 10


def test_frame_over_the_size_limit(tmp_path, bad):
    # 1 TiB announced (8 MiB sent): no VU could hold it (a runtime has 128 MiB), so the
    # client refuses it on the frame header (close 1009, gorilla's read-limit error; k6
    # sets no limit and would buffer it) and treats it like any read error: no error
    # event, close without a code (k6 v1.1)
    out = run(script(tmp_path, EVENTS), "-e", f"URL={bad.url}/huge?announce={1 << 40}&send={8 << 20}",
              "-e", "MAXD=10s", timeout=30)
    assert out.exit_code == 0
    assert events(out) == ["open", "close undefined 0"]
    assert out.elapsed < 8  # not left waiting for the rest until the scenario ends


def test_message_just_under_the_size_limit_is_delivered(tmp_path, bad):
    src = EVENTS.replace("for (let i = 0; i < 3; i++) ws.send('m' + i);", "")
    src = src.replace("console.log('ev message ' + JSON.stringify(String(e.data)));",
                      "console.log('ev message ' + e.data.byteLength); ws.close();")
    # maxDuration leaves room for a loaded CI machine: the 8 MiB frame, its dispatch and the
    # close handshake must all finish inside it for the close handler to run
    out = run(script(tmp_path, src), "-e", f"URL={bad.url}/huge?announce={8 << 20}&send={8 << 20}",
              "-e", "MAXD=30s", timeout=60)
    assert out.exit_code == 0
    assert events(out) == ["open", f"message {8 << 20}", "close 1000 1"]


def _flood_run(tmp_path, src: str, url: str, seconds: float):
    # the run lasts 2 s longer than the watch, which starts at the first message: on a loaded
    # machine start-up and the dial can take most of a run as short as the watch
    proc = Proc(script(tmp_path, src), "-e", f"URL={url}", "-e", f"DUR={seconds + 2}s",
                "--summary-export", str(tmp_path / "flood.json"))
    series = []
    try:
        proc.wait_for("flooding")
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end and proc.proc.poll() is None:
            series.append(proc.rss_mb())
            time.sleep(0.25)
    finally:
        out = proc.finish(30)
    return series, out, json.loads((tmp_path / "flood.json").read_text())["metrics"]


FLOOD = """
import { WebSocket } from 'k6/websockets';
import { Counter } from 'k6/metrics';
const seen = new Counter('seen');
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1, duration: __ENV.DUR, gracefulStop: '0s' } } };
export default function () {
  const ws = new WebSocket(__ENV.URL);
  let first = true;
  // a slow consumer: ~0.2 ms of work per message, far slower than the flood
  ws.onmessage = (e) => {
    if (first) { first = false; console.log('flooding'); }
    seen.add(1); let x = 0; for (let i = 0; i < 20000; i++) x += i;
  };
}
"""

FLOOD_LEGACY = """
import ws from 'k6/ws';
import { Counter } from 'k6/metrics';
const seen = new Counter('seen');
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 1, duration: __ENV.DUR, gracefulStop: '0s' } } };
export default function () {
  ws.connect(__ENV.URL, null, function (socket) {
    let first = true;
    socket.on('message', () => {
      if (first) { first = false; console.log('flooding'); }
      seen.add(1); let x = 0; for (let i = 0; i < 20000; i++) x += i;
    });
  });
}
"""


@pytest.mark.parametrize("api", ["websockets", "legacy"])
@pytest.mark.parametrize("size", [1024, 1 << 20])
def test_a_flood_faster_than_the_script_keeps_memory_bounded(tmp_path, bad, api, size):
    src = FLOOD if api == "websockets" else FLOOD_LEGACY
    series, out, metrics = _flood_run(tmp_path, src, f"{bad.url}/flood?size={size}", 3.0)
    assert out.exit_code == 0
    assert len(series) >= 6, out.stderr
    warm = series[len(series) // 4]
    # without back-pressure this grows by 30 MB/s (1 KiB messages) to 150 MB/s (1 MiB)
    assert max(series) - warm < 40, (series, bad.stats("/flood").flood_sent)
    if api == "websockets":  # counted as dispatched, never more (a message whose dispatch
        # the end of the test cut off is not counted)
        assert 0 < metrics["ws_msgs_received"]["count"] <= metrics["seen"]["count"]


# ---- a server that dies and comes back --------------------------------------------------
COMEBACK = """
import { WebSocket } from 'k6/websockets';
import { Counter } from 'k6/metrics';
import { sleep } from 'k6';
const sentClean = new Counter('sent_clean');
const cleanSockets = new Counter('clean_sockets');
const failedSockets = new Counter('failed_sockets');
export const options = { scenarios: { s: { executor: 'constant-vus', vus: 2, duration: __ENV.DUR || '3s', gracefulStop: '2s' } } };
export default function () {
  sleep(0.05);
  const ws = new WebSocket(__ENV.URL);
  let sent = 0, errored = false;
  ws.onopen = () => { ws.send('x' + sent); sent++; };
  ws.onmessage = () => { if (sent < 5) { ws.send('x' + sent); sent++; } else ws.close(); };
  ws.onerror = () => { errored = true; };
  ws.onclose = (e) => {
    if (!errored && e.code === 1000) { sentClean.add(sent); cleanSockets.add(1); }
    else failedSockets.add(1);
  };
}
"""


@pytest.mark.parametrize("workers", [1, 2])
def test_server_dies_and_comes_back(tmp_path, bad, workers):
    path = script(tmp_path, COMEBACK)
    export = tmp_path / "export.json"
    # 6 s: with worker processes starting on a loaded machine, 3 s left too little time
    # after the comeback for new sockets to be opened and counted
    proc = Proc(path, "-e", f"URL={bad.url}/echo", "-e", "DUR=6s", "--summary-export", str(export),
                workers=workers)
    before = bad.wait("/echo", lambda s: s.clean_closes >= 3, timeout=20).handshakes
    bad.kill()
    time.sleep(0.8)
    bad.revive()
    out = proc.finish(30)
    assert out.exit_code == 0, out.stderr[-2000:]
    data = json.loads(export.read_text())["metrics"]
    # the server counts a clean close after it has echoed the Close frame: on a loaded
    # machine the client can see the echo, and finish, before that count is made
    after = bad.wait("/echo", lambda s: s.clean_closes >= data["clean_sockets"]["count"], timeout=5)
    assert before > 0 and after.handshakes > before + 2  # sockets worked again after the comeback
    assert data["failed_sockets"]["count"] >= 1  # the dead time was noticed
    # every socket that closed cleanly: what the client sent is what the server received
    assert data["sent_clean"]["count"] == after.received_clean
    assert data["clean_sockets"]["count"] == after.clean_closes
    assert data["iterations"]["count"] >= after.clean_closes
