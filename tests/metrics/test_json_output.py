"""--out json lines: Metric/Point shapes, key order, times, tags, metadata, gzip, errors."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from jsrunner.errors import JsRunnerError
from jsrunner.metrics.engine import MetricsEngine
from jsrunner.metrics.json_output import (
    JsonOutput, JsonOutputError, go_float, go_json_string, rfc3339nano,
)

T0 = 1_795_000_042_780_201_687  # 2026-11-18T11:07:22.780201687Z


def _engine() -> MetricsEngine:
    e = MetricsEngine()
    e.registry.define("my_counter", "counter")
    e.configure_thresholds({"my_counter{tag:a}": ["count>=2"],
                            "my_counter": ["count>0", {"threshold": "rate>0", "abortOnFail": True}],
                            "iterations": [{"threshold": "count>0", "abortOnFail": True,
                                            "delayAbortEval": "10s"}]})
    return e


def test_lines_exact(tmp_path):
    path = tmp_path / "out.json"
    out = JsonOutput(str(path), _engine())
    out.write([("my_counter", T0, 1234567.0, {"tag": "<&>\"é\x01", "group": "", "scenario": "default"}, None),
               ("my_counter", T0 + 13, 1e-5, {"scenario": "default", "group": ""}, {"trace": "abc"})])
    out.write([("ws_sessions", 1_795_000_042_000_000_000, 1.0, {"url": "ws://127.0.0.1:1/x", "b": "1"}, {}),
               ("iterations", T0, 1.0, {}, None)])
    out.close()
    lines = path.read_text().split("\n")
    assert lines[-1] == ""
    assert lines[0] == (
        '{"type":"Metric","data":{"name":"my_counter","type":"counter","contains":"default",'
        '"thresholds":["count>0",{"threshold":"rate>0","abortOnFail":true,"delayAbortEval":null}],'
        '"submetrics":[{"name":"my_counter{tag:a}","suffix":"tag:a","tags":{"tag":"a"}}]},'
        '"metric":"my_counter"}')
    assert lines[1] == (
        '{"metric":"my_counter","type":"Point","data":{"time":"2026-11-18T11:07:22.780201687Z",'
        '"value":1.234567e+06,"tags":{"group":"","scenario":"default","tag":"\\u003c\\u0026\\u003e\\"é\\u0001"}}}')
    assert lines[2] == (
        '{"metric":"my_counter","type":"Point","data":{"time":"2026-11-18T11:07:22.7802017Z",'
        '"value":1e-05,"tags":{"group":"","scenario":"default"},"metadata":{"trace":"abc"}}}')
    assert lines[3] == ('{"type":"Metric","data":{"name":"ws_sessions","type":"counter","contains":"default",'
                        '"thresholds":[],"submetrics":null},"metric":"ws_sessions"}')
    assert lines[4] == ('{"metric":"ws_sessions","type":"Point","data":{"time":"2026-11-18T11:07:22Z",'
                        '"value":1,"tags":{"b":"1","url":"ws://127.0.0.1:1/x"}}}')
    assert lines[5] == ('{"type":"Metric","data":{"name":"iterations","type":"counter","contains":"default",'
                        '"thresholds":[{"threshold":"count>0","abortOnFail":true,"delayAbortEval":"10s"}],'
                        '"submetrics":null},"metric":"iterations"}')
    parsed = [json.loads(ln) for ln in lines[:-1]]
    assert [p["type"] for p in parsed] == ["Metric", "Point", "Point", "Metric", "Point", "Metric", "Point"]
    assert list(parsed[1]) == ["metric", "type", "data"]
    assert list(parsed[1]["data"]) == ["time", "value", "tags"]
    assert parsed[1]["data"]["tags"]["tag"] == '<&>"é\x01'


def test_number_and_time_formats():
    assert [go_float(x) for x in (1234567, 1e-5, 1e21, 123456.5, 1e-7, -0.5, 1e8, 1, 0, 1e-4, 100000,
                                  2.0155320000000003)] == [
        "1.234567e+06", "1e-05", "1e+21", "123456.5", "1e-07", "-0.5", "1e+08", "1", "0", "0.0001",
        "100000", "2.0155320000000003"]
    assert rfc3339nano(1_700_000_000_123_456_700) == "2023-11-14T22:13:20.1234567Z"
    assert rfc3339nano(1_700_000_000_100_000_000) == "2023-11-14T22:13:20.1Z"
    assert go_json_string("a\u2028b") == '"a\\u2028b"'


def test_stdout_and_gzip(tmp_path):
    buf = io.StringIO()
    out = JsonOutput("-", _engine(), stdout=buf)
    out.write([("iterations", T0, 1.0, {}, None)])
    out.close()
    assert buf.getvalue().count("\n") == 2
    gz = tmp_path / "o.json.gz"
    with JsonOutput(str(gz), _engine()) as out:
        out.write([("iterations", T0, 1.0, {}, None), ("iterations", T0, 2.0, {}, None)])
    text = gzip.decompress(gz.read_bytes()).decode()
    assert [json.loads(ln)["type"] for ln in text.splitlines()] == ["Metric", "Point", "Point"]


def test_full_disk_is_a_clean_error():
    out = JsonOutput("/dev/full", _engine())
    with pytest.raises(JsonOutputError) as ei:
        out.write([("iterations", T0 + i, 1.0, {"k": "v" * 50}, None) for i in range(2000)])
        out.close()
    assert isinstance(ei.value, JsRunnerError)
    assert ei.value.message == "could not write to the JSON output '/dev/full': No space left on device"
    out2 = JsonOutput("/dev/full", _engine())
    out2.write([("iterations", T0, 1.0, {}, None)])  # small: buffered, fails on close
    with pytest.raises(JsonOutputError):
        out2.close()


def test_unopenable_file(tmp_path):
    with pytest.raises(JsonOutputError) as ei:
        JsonOutput(str(tmp_path / "no" / "dir" / "o.json"), _engine())
    assert "No such file or directory" in ei.value.message and "\n" not in ei.value.message
