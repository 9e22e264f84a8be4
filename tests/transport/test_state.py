"""Pure unit tests of the WebSocket state machine (websockets.md §3.2, §3.3, §4.4, §6)."""

from __future__ import annotations

import pytest

from jsrunner.transport.state import (ABNORMAL_EOF_TEXT, CLOSED, CLOSING, CONNECTING, OPEN,
                                      CloseArgumentError, InvalidStateError, WSState,
                                      canonical_header_key, close_error_text,
                                      validate_close_args)

URL = "ws://127.0.0.1:8765/echo"
MS = 1_000_000


def events(actions):
    return [(a[1], a[2]) for a in actions if a[0] == "event" and a[1] != "sent"]


def samples(actions, name=None):
    return [a[1] for a in actions if a[0] == "sample" and (name is None or a[1]["name"] == name)]


def dispatch(s: WSState, actions):
    """Play the VU loop: accept each event; returns [(kind, payload, readyState)] dispatched."""
    out = []
    for a in actions:
        if a[0] == "event":
            ok, _ = s.accept(a[1], a[2])
            if ok:
                out.append((a[1], a[2], s.ready_state))
    return out


def opened(**kw) -> WSState:
    s = WSState(URL, **kw)
    s.dial_started(0)
    acts = s.handshake_ok(2 * MS, status=101, protocol="")
    assert dispatch(s, acts)[0][0] == "open"
    assert s.ready_state == OPEN
    return s


# ---------------------------------------------------------------- §4.4 rows
def test_connect_refused_error_then_close_without_code():
    s = WSState(URL)
    s.dial_started(0)
    acts = s.dial_failed(5 * MS, "dial tcp 127.0.0.1:1: connect: connection refused")
    assert events(acts) == [("error", {"error": "dial tcp 127.0.0.1:1: connect: connection refused"}),
                            ("close", {"code": None, "reason": ""})]
    d = dispatch(s, acts)
    assert [(k, rs) for k, _, rs in d] == [("error", CLOSED), ("close", CLOSED)]
    # ws_sessions + ws_connecting only, no status/subproto tags, no session duration
    assert [x["name"] for x in samples(acts)] == ["ws_sessions", "ws_connecting"]
    assert samples(acts, "ws_connecting")[0]["value"] == 5.0
    assert samples(acts, "ws_sessions")[0]["time_ns"] == 0
    assert "status" not in samples(acts)[0]["tags"] and "subproto" not in samples(acts)[0]["tags"]


def test_bad_handshake_keeps_status_tag():
    s = WSState(URL)
    s.dial_started(0)
    acts = s.dial_failed(MS, "websocket: bad handshake", status=403,
                         details={"status": 403, "body": "no"})
    assert events(acts)[0] == ("error", {"error": "websocket: bad handshake", "status": 403, "body": "no"})
    tags = samples(acts, "ws_sessions")[0]["tags"]
    assert tags["status"] == "403" and tags["subproto"] == ""


def test_normal_open():
    s = WSState(URL)
    s.dial_started(0)
    acts = s.handshake_ok(3 * MS, status=101, protocol="chat", extensions=["x"])
    assert [e[0] for e in events(acts)] == ["open"]
    assert s.protocol == "" and s.ready_state == CONNECTING  # JS sees it on dispatch only
    assert dispatch(s, acts)[0][2] == OPEN
    assert s.protocol == "chat" and s.extensions == ["x"]
    tags = samples(acts, "ws_connecting")[0]["tags"]
    assert tags == {"url": URL, "name": URL, "status": "101", "subproto": "chat"}


def test_client_close_1000_with_echo():
    s = opened()
    acts = s.request_close()
    assert acts == [("send_close", 1000, "", True)]
    assert s.ready_state == CLOSING
    assert samples(s.frame_written("close", 0, 3 * MS), "ws_msgs_sent")
    acts = s.peer_close(1000, "", 10 * MS)
    assert not [a for a in acts if a[0] == "send_close"]  # no second Close frame
    assert events(acts) == [("close", {"code": 1000, "reason": ""})]
    assert samples(acts, "ws_session_duration")[0]["value"] == 10.0
    assert dispatch(s, acts)[-1][2] == CLOSED


def test_client_close_3001_echo_is_an_error():
    s = opened()
    assert s.request_close(3001, "bye") == [("send_close", 3001, "bye", True)]
    acts = s.peer_close(3001, "bye", 5 * MS)
    assert events(acts) == [("error", {"error": "websocket: close 3001: bye"}),
                            ("close", {"code": 3001, "reason": "bye"})]


@pytest.mark.parametrize("code", [1000, 1001])
def test_server_close_normal_codes_close_only(code):
    s = opened()
    acts = s.peer_close(code, "done", 5 * MS)
    # gorilla echoes the code (empty reason), not counted in ws_msgs_sent
    assert acts[0] == ("send_close", code, "", False)
    assert s.frame_written("close_echo", 0, 5 * MS) == []
    assert events(acts) == [("close", {"code": code, "reason": "done"})]
    assert [k for k, _, _ in dispatch(s, acts)] == ["close"]


@pytest.mark.parametrize("code,reason,text", [
    (4000, "custom", "websocket: close 4000: custom"),
    (1011, "", "websocket: close 1011 (internal server error)"),
    (1011, "oops", "websocket: close 1011 (internal server error): oops"),
    (None, "", "websocket: close 1005 (no status)"),
    (1008, "", "websocket: close 1008 (policy violation)"),
])
def test_server_close_other_codes_error_then_close(code, reason, text):
    s = opened()
    acts = s.peer_close(code, reason, 5 * MS)
    assert events(acts) == [("error", {"error": text}),
                            ("close", {"code": 1005 if code is None else code, "reason": reason})]
    assert [(k, rs) for k, _, rs in dispatch(s, acts)] == [("error", CLOSED), ("close", CLOSED)]


def test_tcp_drop_unexpected_eof():
    s = opened()
    acts = s.transport_eof(5 * MS)
    assert events(acts) == [("error", {"error": ABNORMAL_EOF_TEXT}),
                            ("close", {"code": 1006, "reason": "unexpected EOF"})]
    assert ABNORMAL_EOF_TEXT == "websocket: close 1006 (abnormal closure): unexpected EOF"


def test_read_error_closes_without_error_event_like_k6():
    s = opened()
    acts = s.transport_error(5 * MS, "read tcp a->b: read: connection reset by peer")
    assert events(acts) == [("close", {"code": None, "reason": ""})]


def test_write_failure_error_then_close():
    s = opened()
    acts = s.transport_error(5 * MS, "write tcp a->b: write: broken pipe", during="write")
    assert events(acts) == [("error", {"error": "write tcp a->b: write: broken pipe"}),
                            ("close", {"code": None, "reason": ""})]


def test_server_ping_event():
    s = opened()
    assert events(s.ping_received(MS)) == [("ping", {})]


def test_ping_ids_and_pong_rtt():
    s = opened()
    assert s.next_ping_id(10 * MS) == "0"
    assert s.next_ping_id(11 * MS) == "1"
    acts = s.pong_received(b"1", 14 * MS)
    assert samples(acts, "ws_ping")[0]["value"] == 3.0
    assert events(acts) == [("pong", {"rtt_ms": 3.0, "id": "1"})]
    assert samples(s.frame_written("ping", 0, MS), "ws_msgs_sent")


def test_unknown_pong_warns_and_still_fires():
    s = opened()
    acts = s.pong_received(b"42", MS)
    assert ("log", "warning", "received pong for unknown ping ID 42") in acts
    assert events(acts) == [("pong", {"rtt_ms": None, "id": "42"})]
    assert not samples(acts, "ws_ping")


def test_at_most_one_close_event():
    s = opened()
    acts = s.peer_close(1000, "", MS)
    assert s.transport_eof(2 * MS) == []
    d = dispatch(s, acts)
    assert s.accept("close", {"code": 1000, "reason": ""}) == (False, [])
    assert s.accept("error", {"error": "x"}) == (False, [])
    assert len(d) == 1 and s.ready_state == CLOSED


# ---------------------------------------------------------------- close() while CONNECTING
def test_close_while_connecting_then_handshake_succeeds():
    s = WSState(URL)
    s.dial_started(0)
    assert s.request_close() == []
    assert s.ready_state == CLOSING
    acts = s.handshake_ok(2 * MS, status=101)
    assert events(acts) == []  # no `open`
    assert ("send_close", 1000, "", True) in acts
    assert samples(acts, "ws_sessions")
    acts = s.peer_close(1000, "", 4 * MS)
    assert [k for k, _, _ in dispatch(s, acts)] == ["close"]
    assert s.ready_state == CLOSED and s.buffered_amount == 0


def test_close_while_connecting_then_dial_fails():
    s = WSState(URL)
    s.dial_started(0)
    s.request_close(3000, "x")
    acts = s.dial_failed(MS, "dial tcp 127.0.0.1:1: connect: connection refused")
    assert events(acts)[1] == ("close", {"code": 3000, "reason": ""})
    assert [k for k, _, _ in dispatch(s, acts)] == ["error", "close"]


def test_late_open_is_dropped_after_close():
    s = WSState(URL)
    s.dial_started(0)
    acts = s.handshake_ok(MS)           # open queued for the VU ...
    assert s.request_close() == [("send_close", 1000, "", True)]  # ... but JS closed first
    assert dispatch(s, acts) == []
    assert s.ready_state == CLOSING


# ---------------------------------------------------------------- messages
def test_messages_after_close_are_dropped_and_not_counted():
    s = opened()
    queued = s.message_received({"text": "before"}, MS)
    s.request_close()
    assert s.message_received({"text": "after"}, 2 * MS) == []
    ok, acts = s.accept("message", queued[0][2])
    assert not ok and acts == []


def test_message_counted_at_dispatch_with_receive_time():
    s = opened()
    acts = s.message_received({"text": "hi"}, 7 * MS)
    ok, extra = s.accept(*acts[0][1:])
    assert ok and samples(extra, "ws_msgs_received")[0]["time_ns"] == 7 * MS


def test_send_requires_open():
    s = WSState(URL)
    with pytest.raises(InvalidStateError) as e:
        s.queue_send(1)
    assert str(e.value) == "InvalidStateError" and e.value.js_name == "GoError"
    with pytest.raises(InvalidStateError):
        s.next_ping_id(0)
    s = opened()
    s.request_close()
    with pytest.raises(InvalidStateError):
        s.queue_send(1)


def test_buffered_amount_accounting():
    s = opened()
    s.queue_send(7)
    s.queue_send(3)
    assert s.buffered_amount == 10
    a1 = s.frame_written("text", 7, MS)
    a2 = s.frame_written("binary", 3, MS)
    assert [a[1] for a in a1 + a2 if a[0] == "event"] == ["sent"]  # coalesced
    assert len(samples(a1 + a2, "ws_msgs_sent")) == 2
    assert s.buffered_amount == 10  # until the VU loop sees `sent`
    assert s.accept("sent", {}) == (False, [])
    assert s.buffered_amount == 0
    s.accept("sent", {})
    assert s.buffered_amount == 0  # never negative
    # close/ping frames never touch bufferedAmount (k6 v1.1 went to -2 here)
    s.request_close()
    s.frame_written("close", 0, MS)
    assert s.buffered_amount == 0


# ---------------------------------------------------------------- close() validation
@pytest.mark.parametrize("code", [999, 1001, 1005, 2999, 5000, 1006])
def test_close_invalid_code(code):
    s = opened()
    with pytest.raises(CloseArgumentError) as e:
        s.request_close(code, "")
    assert e.value.message == (
        "InvalidAccessError: Failed to execute 'close' on 'WebSocket': The close code must be "
        f"either 1000, or between 3000 and 4999. {code} is neither")
    assert s.ready_state == OPEN and s.close_requested is None


def test_close_reason_too_long():
    s = opened()
    with pytest.raises(CloseArgumentError) as e:
        s.request_close(1000, "é" * 62)  # 124 bytes
    assert e.value.message == ("SyntaxError: Failed to execute 'close' on 'WebSocket': "
                               "The message must not be greater than 123 bytes")
    assert s.ready_state == OPEN
    assert s.request_close(1000, "x" * 123) == [("send_close", 1000, "x" * 123, True)]


@pytest.mark.parametrize("args,expected", [((None, None), (1000, "")), ((0, ""), (1000, "")),
                                           ((3000, "a"), (3000, "a")), ((4999, ""), (4999, ""))])
def test_close_defaults(args, expected):
    assert validate_close_args(*args) == expected


def test_close_is_noop_when_closing_or_closed():
    s = opened()
    assert s.request_close(3001, "a")
    assert s.request_close(1000) is None
    assert s.request_close(1) is None  # no validation either
    s.peer_close(3001, "a", MS)
    dispatch(s, [("event", "close", {})])
    assert s.request_close() is None


# ---------------------------------------------------------------- tags
def test_name_tag_overrides_url():
    s = WSState(URL, tags={"name": "chat", "room": "a", "scenario": "default", "group": ""})
    s.dial_started(0)
    t = samples(s.handshake_ok(MS), "ws_sessions")[0]["tags"]
    assert t == {"name": "chat", "url": "chat", "room": "a", "scenario": "default", "group": "",
                 "status": "101", "subproto": ""}


def test_system_tags_subset():
    s = WSState(URL, system_tags={"url"})
    s.dial_started(0)
    assert samples(s.handshake_ok(MS), "ws_sessions")[0]["tags"] == {"url": URL}


def test_ip_tag_when_enabled():
    s = WSState(URL, system_tags={"url", "ip"})
    s.dial_started(0)
    assert samples(s.handshake_ok(MS, ip="127.0.0.1"), "ws_sessions")[0]["tags"]["ip"] == "127.0.0.1"


# ---------------------------------------------------------------- legacy k6/ws
def test_legacy_tags_and_counting():
    s = WSState(URL, legacy=True, tags={"name": "n"})
    s.dial_started(5)
    acts = s.handshake_ok(MS)
    assert samples(acts, "ws_sessions")[0]["tags"] == {"name": "n", "url": URL, "status": "101",
                                                       "subproto": ""}
    dispatch(s, acts)
    assert samples(s.frame_written("ping", 0, MS)) == []
    assert samples(s.frame_written("text", 1, MS), "ws_msgs_sent")
    assert s.request_close(None, "", validate=False) == [("send_close", 1001, "", False)]
    acts = s.local_teardown(9 * MS)
    assert events(acts) == [("close", {"code": 1001, "reason": ""})]
    assert samples(acts, "ws_session_duration")[0]["time_ns"] == 5  # timestamp = connect start


def test_legacy_read_error_reports_going_away():
    s = opened(legacy=True)
    assert events(s.transport_error(MS, "x"))[-1] == ("close", {"code": 1001, "reason": ""})


# ---------------------------------------------------------------- helpers
def test_close_error_texts():
    assert close_error_text(1000) == "websocket: close 1000 (normal)"
    assert close_error_text(1001, "bye") == "websocket: close 1001 (going away): bye"
    assert close_error_text(1006, "unexpected EOF") == ABNORMAL_EOF_TEXT
    assert close_error_text(1012) == "websocket: close 1012"
    assert close_error_text(4000, "custom") == "websocket: close 4000: custom"


@pytest.mark.parametrize("raw,canon", [("x-foo", "X-Foo"), ("X_bar", "X_bar"), ("x_bar", "X_bar"),
                                       ("user-agent", "User-Agent"),
                                       ("SEC-WEBSOCKET-KEY", "Sec-Websocket-Key"),
                                       ("bad header", "bad header")])
def test_canonical_header_key(raw, canon):
    assert canonical_header_key(raw) == canon


def test_data_samples():
    out = WSState.data_samples(10, 0, {"group": "", "scenario": "s"}, 5)
    assert out == [{"name": "data_sent", "value": 10, "tags": {"group": "", "scenario": "s"},
                    "time_ns": 5}]
