"""k6/ws (legacy, blocking ws.connect) against the bundled local test server (no mocks).

Expected behaviour and texts: runtime.md §11, cross-checked with real k6 v1.1.0.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.helpers import run_script as run_full

from . import first_line, json_points, refused_port, run_script, uniq

HEAD = """
import ws from 'k6/ws';
const out = (v) => console.log(JSON.stringify(v));
const err = (f) => { try { f(); return 'no error'; } catch (e) { return [e.name, e.message]; } };
"""


def check_json_output(res, path) -> list[dict]:
    if "JsonOutput.write() takes" in res.stderr:  # the hub/JsonOutput signature mismatch
        pytest.xfail("--out json is broken in metrics_hub (writer.write(out, registry))")
    return json_points(path)


# ------------------------------------------------------------------ the legacy sample


def test_legacy_sample_shape_metrics_and_outputs(tmp_path, fresh_ws_server):
    srv = fresh_ws_server
    path = uniq("/echo")
    url = srv.ws_url(path)
    summary = tmp_path / "summary.json"
    jsonl = tmp_path / "out.json"
    src = HEAD + f"""
    export const options = {{ iterations: 1 }};
    export default function () {{
      let pongs = 0;
      const res = ws.connect({url!r}, {{ tags: {{ my_tag: 'hello' }} }}, function (socket) {{
        socket.on('open', function open() {{
          out(['open', arguments.length]);
          socket.send('hello');
          socket.setInterval(function timeout() {{ socket.ping(); }}, 40);
        }});
        socket.on('ping', () => out(['ping']));
        socket.on('pong', function () {{ pongs++; if (pongs === 1) out(['pong', arguments.length]); }});
        socket.on('message', (data) => out(['message', data]));
        socket.on('close', function (code) {{ out(['close', code, arguments.length]); }});
        socket.setTimeout(function () {{ out(['closing']); socket.close(); }}, 200);
      }});
      out(['pongs', pongs]);
      out(['res', Object.keys(res), res.url, res.status, res.body, res.error,
           res.headers['Upgrade'], typeof res.headers['Sec-Websocket-Accept']]);
    }}
    """
    res = run_full(tmp_path, src, summary_export=str(summary), out=[f"json={jsonl}"])
    assert res.exit_code == 0, res.stderr
    lines = [json.loads(m) for m in res.console]
    assert lines[0] == ["open", 0]
    assert lines[1] == ["message", "hello"]
    assert lines[-4] == ["closing"]
    assert lines[-3] == ["close", 1001, 1]
    pongs = lines[-2][1]
    assert 1 <= pongs <= 5  # pings every 40 ms for 200 ms
    assert lines[2:-4] == [["pong", 0]]
    assert lines[-1] == ["res", ["url", "status", "headers", "body", "error"], url, 101, "", "",
                         "websocket", "string"]

    stats = srv.wait_stats(path, lambda s: s.close_codes)
    assert stats.close_codes == (1001,)
    # a pong still in flight when close() runs is never dispatched (loaded machines)
    assert stats.text_messages == 1 and stats.pings in (pongs, pongs + 1)

    metrics = json.loads(summary.read_text())["metrics"]
    assert metrics["ws_sessions"]["count"] == 1
    assert metrics["ws_msgs_sent"]["count"] == 1  # pings and the Close frame are not counted
    assert metrics["ws_msgs_received"]["count"] == 1
    assert metrics["ws_session_duration"]["min"] >= 190
    assert metrics["ws_connecting"]["max"] < 5000
    assert metrics["ws_ping"]["min"] >= 0
    assert metrics["data_sent"]["count"] > 200  # handshake + frames
    assert metrics["data_received"]["count"] > 100

    points = check_json_output(res, jsonl)
    ws_points = [p for p in points if p["metric"].startswith("ws_")]
    by_name: dict[str, list[dict]] = {}
    for p in ws_points:
        by_name.setdefault(p["metric"], []).append(p)
    assert len(by_name.pop("ws_ping")) in (pongs, pongs + 1)
    assert {k: len(v) for k, v in by_name.items()} == {
        "ws_sessions": 1, "ws_connecting": 1, "ws_msgs_sent": 1, "ws_msgs_received": 1,
        "ws_session_duration": 1}
    tags = by_name["ws_sessions"][0]["data"]["tags"]
    assert tags == {"group": "", "my_tag": "hello", "scenario": "default", "status": "101",
                    "subproto": "", "url": url}  # no `name` tag in k6/ws
    # ws_session_duration carries the connect start time, like ws_sessions
    assert by_name["ws_session_duration"][0]["data"]["time"] == by_name["ws_sessions"][0]["data"]["time"]


def test_binary_messages(tmp_path, fresh_ws_server):
    srv = fresh_ws_server
    path = uniq("/echo")
    src = HEAD + f"""
    export default function () {{
      ws.connect({srv.ws_url(path)!r}, function (socket) {{
        socket.on('open', () => {{
          socket.sendBinary(new Uint8Array([0, 1, 2, 250, 255]).buffer);
          socket.send('text');
        }});
        socket.on('message', (m) => out(['message', m]));
        socket.on('binaryMessage', (ab) => {{
          out(['binary', Object.prototype.toString.call(ab), Array.from(new Uint8Array(ab))]);
        }});
        socket.setTimeout(() => socket.close(), 150);
      }});
      // a binary message without a binaryMessage handler is not given to 'message'
      ws.connect({srv.ws_url(uniq('/echo'))!r}, function (socket) {{
        socket.on('open', () => socket.sendBinary(new ArrayBuffer(3)));
        socket.on('message', (m) => out(['wrong', m]));
        socket.setTimeout(() => socket.close(), 100);
      }});
    }}
    """
    res = run_script(tmp_path, src)
    assert res.errors == [None], res.errors
    assert res.out == [["binary", "[object ArrayBuffer]", [0, 1, 2, 250, 255]], ["message", "text"]]
    assert srv.received(path) == [bytes([0, 1, 2, 250, 255]), "text"]
    received = [s for s in res.samples if s[0] == "ws_msgs_received"]
    sent = [s for s in res.samples if s[0] == "ws_msgs_sent"]
    assert len(received) == 3 and len(sent) == 3


def test_send_binary_argument_errors(tmp_path, fresh_ws_server):
    url = fresh_ws_server.ws_url(uniq("/echo"))
    src = HEAD + f"""
    export default function () {{
      ws.connect({url!r}, function (socket) {{
        out(Object.keys(socket));
        out([typeof socket.on('open', 5), String(socket), JSON.stringify(socket)]);
        out(err(() => socket.sendBinary()));
        for (const v of [undefined, null, 'x', new Uint8Array(2), {{}}, [1], 5]) out(err(() => socket.sendBinary(v)));
        out(err(() => socket.setTimeout(() => 1, 0)));
        out(err(() => socket.setInterval(() => 1, -1)));
        out(err(() => socket.setTimeout(() => 1)));
        out(err(() => socket.setTimeout(() => 1, NaN)));
        out(err(() => socket.setTimeout(() => 1, Infinity)));
        out(err(() => socket.setTimeout(() => 1, 0.0000001)));
        out(err(() => socket.setTimeout(5, 10)));
        socket.close();
      }});
    }}
    """
    res = run_script(tmp_path, src)
    assert res.errors == [None], res.errors
    expected_type = "expected ArrayBuffer as argument, received: "
    assert res.out == [
        ["close", "on", "ping", "send", "sendBinary", "setInterval", "setTimeout"],
        ["undefined", "[object Object]", "{}"],
        ["GoError", "missing argument, expected ArrayBuffer"],
        ["GoError", expected_type + "undefined"],
        ["GoError", expected_type + "null"],
        ["GoError", expected_type + "String"],
        ["GoError", expected_type + "Uint8Array"],
        ["GoError", expected_type + "Object"],
        ["GoError", expected_type + "Array"],
        ["GoError", expected_type + "Number"],
        ["GoError", "setTimeout requires a >0 timeout parameter, received 0.00"],
        ["GoError", "setInterval requires a >0 timeout parameter, received -1.00"],
        ["GoError", "setTimeout requires a >0 timeout parameter, received 0.00"],
        ["GoError", "setTimeout requires a >0 timeout parameter, received NaN"],
        ["GoError", "setTimeout requires a >0 timeout parameter, received +Inf"],
        ["GoError", "setTimeout requires a >0 timeout parameter, received 0.00"],
        ["TypeError", "could not convert function call parameter 0: could not convert 5 to sobek.Callable"],
    ]


# ------------------------------------------------------------------ close codes


def test_close_codes(tmp_path, fresh_ws_server):
    srv = fresh_ws_server
    p_default, p_custom, p_str, p_cb = uniq("/echo"), uniq("/echo"), uniq("/echo"), uniq("/echo")
    src = HEAD + f"""
    export default function () {{
      ws.connect({srv.ws_url(p_default)!r}, (s) => {{
        s.on('open', () => s.close());
        s.on('close', (c) => out(['default', c]));
      }});
      ws.connect({srv.ws_url(p_custom)!r}, (s) => {{
        s.on('open', () => s.close(4000));
        s.on('close', (c) => out(['custom', c]));
      }});
      ws.connect({srv.ws_url(p_str)!r}, (s) => {{
        s.on('close', (c) => out(['string', c]));
        s.setTimeout(() => s.close('3005'), 10);
      }});
      // close() in the callback: close handlers run at once, 'open' still fires (as in k6)
      ws.connect({srv.ws_url(p_cb)!r}, (s) => {{
        s.on('close', (c) => out(['cb-close', c]));
        s.on('open', () => {{ out(['open after close']); s.send('late'); }});
        s.on('error', (e) => out(['error', e.error(), Object.keys(e)]));
        s.close();
        s.close(4999); // no-op
      }});
      // two close handlers, both called in order; later open handlers still run
      ws.connect({srv.ws_url(uniq('/echo'))!r}, (s) => {{
        s.on('close', (c) => out(['A', c]));
        s.on('close', (c) => out(['B', c]));
        s.on('open', () => {{ s.close(); out(['after close']); }});
        s.on('open', () => out(['second open handler']));
      }});
    }}
    """
    res = run_script(tmp_path, src)
    assert res.errors == [None], res.errors
    assert res.out == [
        ["default", 1001], ["custom", 4000], ["string", 3005],
        ["cb-close", 1001], ["open after close"], ["error", "websocket: close sent", ["error"]],
        ["A", 1001], ["B", 1001], ["after close"], ["second open handler"],
    ]
    for path, code in ((p_default, 1001), (p_custom, 4000), (p_str, 3005), (p_cb, 1001)):
        assert srv.wait_stats(path, lambda s: s.close_codes).close_codes == (code,)
    # a send() after close() fails, but k6 still counts it in ws_msgs_sent
    assert srv.stats(p_cb).text_messages == 0
    assert len([s for s in res.samples if s[0] == "ws_msgs_sent"]) == 1


def test_server_close_and_network_errors(tmp_path, fresh_ws_server):
    srv = fresh_ws_server
    src = HEAD + f"""
    export default function () {{
      for (const [name, url] of [
          ['normal', {srv.ws_url(uniq('/close') + '?code=1000&after=20')!r}],
          ['going-away', {srv.ws_url(uniq('/close') + '?code=1001&after=20')!r}],
          ['app', {srv.ws_url(uniq('/close') + '?code=4001&reason=bye&after=20')!r}],
          ['abort', {srv.ws_url(uniq('/abort') + '?after=20')!r}]]) {{
        const res = ws.connect(url, (s) => {{
          s.on('error', (e) => out([name, 'error', e.error(), String(e), JSON.stringify(e), Object.keys(e)]));
          s.on('close', (c) => out([name, 'close', c]));
        }});
        out([name, res.status]);
      }}
    }}
    """
    res = run_script(tmp_path, src)
    assert res.errors == [None], res.errors
    assert res.out == [
        ["normal", "close", 1000], ["normal", 101],
        ["going-away", "close", 1001], ["going-away", 101],
        ["app", "error", "websocket: close 4001: bye", "websocket: close 4001: bye",
         '{"code":4001,"text":"bye"}', ["code", "text", "error"]],
        ["app", "close", 4001], ["app", 101],
        ["abort", "error", "websocket: close 1006 (abnormal closure): unexpected EOF",
         "websocket: close 1006 (abnormal closure): unexpected EOF",
         '{"code":1006,"text":"unexpected EOF"}', ["code", "text", "error"]],
        ["abort", "close", 1006], ["abort", 101],
    ]


# ------------------------------------------------------------------ pings


def test_pings_both_ways(tmp_path, fresh_ws_server):
    srv = fresh_ws_server
    p_srv, p_cli = uniq("/ping"), uniq("/echo")
    src = HEAD + f"""
    export default function () {{
      let pings = 0;
      ws.connect({srv.ws_url(p_srv + '?interval=20&count=3')!r}, (s) => {{
        s.on('ping', function () {{ pings++; if (arguments.length) out(['args!']); if (pings === 3) s.close(); }});
        s.on('message', (m) => out(['unexpected', m]));
      }});
      out(['server pings', pings]);
      let pongs = 0;
      ws.connect({srv.ws_url(p_cli)!r}, (s) => {{
        s.on('open', () => {{ s.ping(); s.ping(); }});
        s.on('pong', function () {{ pongs++; if (pongs === 2) s.close(); }});
        s.on('close', () => s.ping()); // after close: an error event, not counted
        s.on('error', (e) => out(['error', e.error()]));
      }});
      out(['pongs', pongs]);
    }}
    """
    res = run_script(tmp_path, src)
    assert res.errors == [None], res.errors
    assert res.out == [["server pings", 3], ["pongs", 2], ["error", "websocket: close sent"]] or \
        res.out == [["server pings", 3], ["error", "websocket: close sent"], ["pongs", 2]]
    assert srv.wait_stats(p_srv, lambda s: s.close_codes).pongs == 3  # answered automatically
    assert srv.wait_stats(p_cli, lambda s: s.close_codes).pings == 2
    ws_ping = [s for s in res.samples if s[0] == "ws_ping"]
    assert len(ws_ping) == 2 and all(s[1] >= 0 for s in ws_ping)
    assert not [s for s in res.samples if s[0] == "ws_msgs_sent"]


# ------------------------------------------------------------------ errors


def test_dial_failures_return_a_response(tmp_path, fresh_ws_server):
    srv = fresh_ws_server
    port = refused_port()
    src = HEAD + f"""
    export default function () {{
      const cb = () => out(['callback called']);
      out(ws.connect('ws://127.0.0.1:{port}/x', {{}}, cb));
      out(ws.connect({srv.ws_url(uniq('/status') + '?code=403')!r}, cb));
      out(ws.connect('http://127.0.0.1:{port}/x', cb));
      out(ws.connect('ws://[::1', cb).error);
      out(ws.connect('ws://u:p@127.0.0.1:{port}/', cb).error);
      out(ws.connect('ws://127.0.0.1:99999/', cb).error);
    }}
    """
    res = run_script(tmp_path, src)
    assert res.errors == [None], res.errors
    refused, forbidden, malformed = res.out[:3]
    assert refused == {"url": "", "status": 0, "headers": {}, "body": "",
                       "error": f"dial tcp 127.0.0.1:{port}: connect: connection refused"}
    assert forbidden["url"] == "" and forbidden["status"] == 403 and forbidden["error"] == ""
    assert forbidden["body"] == "refused by /status\n"
    assert forbidden["headers"]["Content-Length"] == "19" and "Connection" not in forbidden["headers"]
    assert malformed == {"url": "", "status": 0, "headers": {}, "body": "", "error": "malformed ws or wss URL"}
    assert res.out[3:] == ["parse \"ws://[::1\": missing ']' in host", "malformed ws or wss URL",
                           "dial tcp: address 99999: invalid port"]
    # k6 counts failed dials as sessions (ws_session_duration too); tags: url (+ status)
    sessions = [s for s in res.samples if s[0] == "ws_sessions"]
    durations = [s for s in res.samples if s[0] == "ws_session_duration"]
    assert len(sessions) == 6 and len(durations) == 6
    assert "status" not in sessions[0][2] and sessions[0][2]["url"] == f"ws://127.0.0.1:{port}/x"
    assert sessions[1][2]["status"] == "403"
    assert not [s for s in res.samples if s[0].startswith("ws_msgs")]


def test_dial_failure_throws_with_throw_option(tmp_path, fresh_ws_server):
    port = refused_port()
    forbidden = fresh_ws_server.ws_url(uniq("/status") + "?code=403")
    src = HEAD + f"""
    export const options = {{ iterations: 1 }};
    export default function () {{
      out(err(() => ws.connect('ws://127.0.0.1:{port}/', () => 1)));
      out(err(() => ws.connect({forbidden!r}, () => 1)));
    }}
    """
    res = run_full(tmp_path, src, throw=True, no_summary=True)
    assert res.exit_code == 0, res.stderr
    assert [json.loads(m) for m in res.console] == [
        ["GoError", f"dial tcp 127.0.0.1:{port}: connect: connection refused"],
        ["GoError", "websocket: bad handshake"]]


def test_argument_and_params_errors(tmp_path, fresh_ws_server):
    url = fresh_ws_server.ws_url(uniq("/echo"))
    src = HEAD + f"""
    const U = {url!r};
    out(err(() => ws.connect(U, () => 1)));
    export default function () {{
      out(Object.keys(ws));
      out(err(() => ws.connect()));
      out(err(() => ws.connect(U)));
      out(err(() => ws.connect(U, {{}}, () => 1, 1)));
      out(err(() => ws.connect(U, {{}}, 5)));
      out(err(() => ws.connect(U, {{ tags: {{ a: {{}} }} }}, (s) => s.close())));
      out(err(() => ws.connect(U, {{ compression: 'gzip' }}, (s) => s.close())));
      // ignored: unknown keys, '' compression, a string or null as params
      out(ws.connect(U, {{ foo: 1, compression: '' }}, (s) => s.close()).status);
      out(ws.connect(U, 'abc', (s) => s.close()).status);
      out(ws.connect(U, null, (s) => s.close()).status);
      const r = ws.connect(U, {{ compression: ' deflate ' }}, (s) => s.close());
      out([r.status, r.headers['Sec-Websocket-Extensions'].split(';')[0]]);
    }}
    """
    res = run_script(tmp_path, src)
    assert res.errors == [None], res.errors
    assert res.out == [
        ["GoError", "using websockets in the init context is not supported"],
        ["connect"],
        ["GoError", "invalid number of arguments to ws.connect"],
        ["GoError", "invalid number of arguments to ws.connect"],
        ["GoError", "invalid number of arguments to ws.connect"],
        ["GoError", "last argument to ws.connect must be a function"],
        ["GoError", "invalid ws.connect() metric tags: invalid value for metric tag 'a': only String, "
                    "Boolean and Number types are accepted as a metric tag values"],
        ["GoError", "unsupported compression algorithm 'gzip', supported algorithm is 'deflate'"],
        101, 101, 101, [101, "permessage-deflate"],
    ]


def test_headers_and_jar(tmp_path, fresh_ws_server):
    srv = fresh_ws_server
    src = HEAD + f"""
    const jar = {{ cookiesForURL: (u) => ({{ session: ['abc'], u: [u.split(':')[0]] }}) }};
    export default function () {{
      ws.connect({srv.ws_url(uniq('/headers'))!r}, {{ headers: {{ 'x-a': 1, 'x-n': null }}, jar }}, (s) => {{
        s.on('message', (m) => {{ const d = JSON.parse(m); out([d.headers['x-a'], d.headers['x-n'], d.cookies]); s.close(); }});
      }});
    }}
    """
    res = run_script(tmp_path, src)
    assert res.errors == [None], res.errors
    assert res.out == [["1", "null", {"session": "abc", "u": "http"}]]


def test_handler_exception_closes_and_propagates(tmp_path, fresh_ws_server):
    srv = fresh_ws_server
    p_msg, p_cb, p_timer = uniq("/echo"), uniq("/echo"), uniq("/echo")
    src = HEAD + f"""
    export default function () {{
      out(err(() => ws.connect({srv.ws_url(p_cb)!r}, (s) => {{
        s.on('close', (c) => out(['cb close', c]));
        throw new Error('in callback');
      }})));
      out(err(() => ws.connect({srv.ws_url(p_timer)!r}, (s) => {{
        s.on('close', (c) => out(['timer close', c]));
        s.setTimeout(() => {{ throw new Error('in timer'); }}, 10);
      }})));
      // the close handler's own exception wins
      out(err(() => ws.connect({srv.ws_url(uniq('/echo'))!r}, (s) => {{
        s.on('close', (c) => {{ throw new Error('in close ' + c); }});
        s.on('open', () => s.close(3001));
      }})));
      ws.connect({srv.ws_url(p_msg)!r}, (s) => {{
        s.on('open', () => s.send('x'));
        s.on('close', (c) => out(['msg close', c]));
        s.on('message', () => {{ throw new Error('boom'); }});
      }});
      out(['not reached']);
    }}
    """
    res = run_script(tmp_path, src)
    assert first_line(res.errors[0]) == "Error: boom"
    assert "script.js" in res.errors[0]
    assert res.out == [
        ["cb close", 1001], ["Error", "in callback"],
        ["timer close", 1001], ["Error", "in timer"],
        ["Error", "in close 3001"],
        ["msg close", 1001],
    ]
    for path in (p_msg, p_cb, p_timer):
        assert srv.wait_stats(path, lambda s: s.close_codes).close_codes == (1001,)


def test_nested_connect_and_socket_timers(tmp_path, fresh_ws_server):
    srv = fresh_ws_server
    src = HEAD + f"""
    export default function () {{
      const t0 = Date.now();
      let ticks = 0;
      let globalTimerRan = false;
      setTimeout(() => {{ globalTimerRan = true; }}, 1);
      ws.connect({srv.ws_url(uniq('/echo'))!r}, (s) => {{
        s.on('open', () => {{
          ws.connect({srv.ws_url(uniq('/echo'))!r}, (s2) => {{
            s2.on('open', () => s2.send('inner'));
            s2.on('message', (m) => {{ out(['inner', m]); s2.close(); }});
          }});
          s.send('outer');
        }});
        s.on('message', (m) => out(['outer', m]));
        s.setInterval(() => {{ ticks++; }}, 20);
        s.setTimeout(() => {{ out(['global timer ran during connect', globalTimerRan]); s.close(); }}, 130);
        s.on('close', () => {{ s.setTimeout(() => out(['never']), 1); }});
      }});
      out(['ticks', ticks >= 2 && ticks <= 7, Date.now() - t0 >= 120]);
    }}
    """
    res = run_script(tmp_path, src)
    assert res.errors == [None], res.errors
    assert res.out == [["inner", "inner"], ["outer", "outer"], ["global timer ran during connect", False],
                       ["ticks", True, True]]


def test_interrupted_iteration_ends_connect(tmp_path, fresh_ws_server):
    srv = fresh_ws_server
    path = uniq("/echo")
    src = HEAD + f"""
    export const options = {{ scenarios: {{ a: {{ executor: 'constant-vus', vus: 2, duration: '1s', gracefulStop: '0s' }} }} }};
    export default function () {{
      ws.connect({srv.ws_url(path)!r}, (s) => {{
        s.on('close', (c) => out(['close handler', c]));
        s.setInterval(() => s.send('tick'), 50);
      }});
      out(['after connect']);
    }}
    """
    t0 = time.monotonic()
    res = run_full(tmp_path, src, no_summary=True)
    elapsed = time.monotonic() - t0
    assert res.exit_code == 0, res.stderr
    assert elapsed < 8
    assert res.console == []  # no handler ran and connect did not return into the script
    assert "level=error" not in res.stderr
    stats = srv.wait_stats(path, lambda s: len(s.close_codes) == 2)
    assert stats.close_codes == (1001, 1001)
    assert stats.text_messages >= 4


def test_interrupt_while_dialing(tmp_path, fresh_ws_server):
    url = fresh_ws_server.ws_url(uniq("/slow") + "?delay=5000")
    src = HEAD + f"""
    export const options = {{ scenarios: {{ a: {{ executor: 'constant-vus', vus: 1, duration: '1s', gracefulStop: '0s' }} }} }};
    export default function () {{
      ws.connect({url!r}, () => out(['callback']));
      out(['after connect']);
    }}
    """
    t0 = time.monotonic()
    res = run_full(tmp_path, src, no_summary=True)
    assert res.exit_code == 0, res.stderr
    assert time.monotonic() - t0 < 6
    assert res.console == [] and "level=error" not in res.stderr
