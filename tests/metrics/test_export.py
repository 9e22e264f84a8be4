"""handleSummary data (§8.4), --summary-export JSON (§8.3), handleSummary results (§1.3)."""

from __future__ import annotations

import base64
import json

from jsrunner.metrics.engine import MetricsEngine
from jsrunner.metrics.export import (
    FAILED_SUMMARY_MSG, UNDEFINED, apply_handle_summary_result, build_summary_data,
    summary_export_json,
)
from jsrunner.metrics.summary import SummaryOptions, render_legacy
from tests.metrics.fixtures import SPEC_EXAMPLE_DURATION_MS, spec_example_engine, t1_engine


def _data(**kw):
    e = spec_example_engine()
    e.evaluate_thresholds(SPEC_EXAMPLE_DURATION_MS)
    return build_summary_data(e, SPEC_EXAMPLE_DURATION_MS, **kw)


def test_summary_data_shape():
    d = _data(setup_data={"x": 1})
    assert list(d) == ["root_group", "options", "state", "metrics", "setup_data"]
    assert d["options"] == {"summaryTrendStats": ["avg", "min", "med", "max", "p(90)", "p(95)"],
                            "summaryTimeUnit": "", "noColor": False}
    assert d["state"] == {"isStdOutTTY": False, "isStdErrTTY": False,
                          "testRunDurationMs": SPEC_EXAMPLE_DURATION_MS}
    rg = d["root_group"]
    assert (rg["name"], rg["path"], rg["id"], rg["checks"]) == ("", "", "d41d8cd98f00b204e9800998ecf8427e", [])
    g = rg["groups"][0]
    assert (g["name"], g["path"], g["id"]) == ("grp one", "::grp one", "e3a09e0e75ce870acf13c569f990f92a")
    assert [c["name"] for c in g["checks"]] == ["is one", "is two"]
    assert g["checks"][1] == {"name": "is two", "path": "::grp one::is two",
                              "id": g["checks"][1]["id"], "passes": 0, "fails": 4}
    assert g["groups"][0]["checks"][0]["path"] == "::grp one::nested::nested check"
    m = d["metrics"]
    assert m["my_trend"] == {"type": "trend", "contains": "default",
                             "values": {"avg": 55, "min": 50, "med": 55, "max": 60, "p(90)": 60, "p(95)": 60},
                             "thresholds": {"p(95)<200": {"ok": True}, "avg<100": {"ok": True}}}
    assert m["my_counter{tag:a}"]["values"]["count"] == 4
    assert m["my_counter{tag:a}"]["thresholds"] == {"count>=2": {"ok": True}}
    assert m["my_rate"]["thresholds"] == {"rate>0.9": {"ok": False}}
    assert m["checks"]["values"] == {"rate": 8 / 12, "passes": 8, "fails": 4}
    assert m["my_gauge"]["values"] == {"value": 6, "min": 5, "max": 6}
    assert m["data_sent"] == {"type": "counter", "contains": "data",
                              "values": {"count": 808, "rate": 808 / (SPEC_EXAMPLE_DURATION_MS / 1000)}}
    assert "group_duration" in m and "vus" not in m
    assert "setup_data" not in _data()
    assert _data(setup_data=None)["setup_data"] is None
    json.dumps(d)  # JSON-able for the JS bridge


def test_threshold_only_rate_without_samples():
    e = MetricsEngine()
    e.registry.define("never", "rate")
    e.configure_thresholds({"never": ["rate>0.5"]})
    e.evaluate_thresholds(100.0)
    d = build_summary_data(e, 100.0, setup_data=UNDEFINED)
    assert d["metrics"] == {"never": {"type": "rate", "contains": "default",
                                      "values": {"rate": 0, "passes": 0, "fails": 0},
                                      "thresholds": {"rate>0.5": {"ok": True}}}}


def test_summary_export_json_legacy_shape():
    text = summary_export_json(_data(setup_data={"x": 1}))
    assert text.startswith('{\n    "root_group": {\n        "name": ""')
    d = json.loads(text)
    assert list(d) == ["root_group", "metrics", "setup_data"]
    grp = d["root_group"]["groups"]["grp one"]
    assert grp["checks"]["is one"] == {"name": "is one", "path": "::grp one::is one",
                                       "id": grp["checks"]["is one"]["id"], "passes": 4, "fails": 0}
    assert grp["groups"]["nested"]["path"] == "::grp one::nested"
    assert d["root_group"]["checks"] == {}
    m = d["metrics"]
    assert m["my_counter"] == {"count": 12, "rate": 12 / (SPEC_EXAMPLE_DURATION_MS / 1000)}
    assert m["my_counter{tag:a}"]["thresholds"] == {"count>=2": False}
    assert m["my_rate"] == {"passes": 2, "fails": 2, "value": 0.5, "thresholds": {"rate>0.9": True}}
    assert m["my_gauge"] == {"value": 6, "min": 5, "max": 6}
    assert m["checks"] == {"passes": 8, "fails": 4, "value": 0.6666666666666666,
                           "thresholds": {"rate>0.5": False}}
    assert m["my_trend"]["thresholds"] == {"p(95)<200": False, "avg<100": False}
    assert m["iteration_duration"]["avg"] == (2.805 + 4.38 + 5.39 + 7.285) / 4


def test_legacy_renders_from_data_object():
    e, duration = t1_engine("legacy")
    d = build_summary_data(e, duration, trend_stats=["avg", "min", "max", "p(90)", "count"])
    text = render_legacy(d, SummaryOptions(trend_stats=["avg", "min", "max", "p(90)", "count"]))
    assert text.startswith("     █ setup\n\n       ✓ setup check\n\n     █ g_b\n")
    assert "   ✗ my_rate..............: 50.00% 2 out of 4" in text


class _Sink:
    def __init__(self):
        self.data = b""

    def __call__(self, b: bytes) -> None:
        self.data += b


def _apply(result, tmp_path, **kw):
    out, err = _Sink(), _Sink()
    res = apply_handle_summary_result(result, write_stdout=out, write_stderr=err, cwd=tmp_path, **kw)
    return res, out.data, err.data


def test_falsy_result_prints_default(tmp_path):
    for falsy in (None, False, 0, "", float("nan")):
        res, out, err = _apply(falsy, tmp_path, default_stdout="\nSUMMARY\n\n")
        assert res.used_default and res.errors == [] and out == b"\nSUMMARY\n\n" and err == b""


def test_dict_result_streams_files_and_bytes(tmp_path):
    res, out, err = _apply({"stdout": "hi\n", "stderr": "oops",
                            "sub.txt": {"__bytes_b64__": base64.b64encode(b"\x00\x01hi").decode()}},
                           tmp_path, export_path="exp.json", export_text='{"a": 1}')
    assert (res.used_default, res.errors) == (False, [])
    assert (out, err) == (b"hi\n", b"oops")
    assert (tmp_path / "sub.txt").read_bytes() == b"\x00\x01hi"
    assert (tmp_path / "exp.json").read_text() == '{"a": 1}'


def test_export_path_overrides_result_key(tmp_path):
    _apply({"exp.json": "from script"}, tmp_path, export_path="exp.json", export_text="export")
    assert (tmp_path / "exp.json").read_text() == "export"


def test_invalid_value_types_write_nothing(tmp_path):
    cases = [(5, "int64"), (5.0, "int64"), (1.5, "float64"), (True, "bool"), ({}, "map[string]interface {}"),
             ([1], "[]interface {}"), (None, "<nil>")]
    for value, go_type in cases:
        res, out, _ = _apply({"stdout": value, "x.txt": "hello"}, tmp_path)
        assert res.errors == [f"error handling summary object stdout: invalid type {go_type}, "
                              "it needs to be a string or ArrayBuffer"]
        assert out == b"" and not (tmp_path / "x.txt").exists()
    assert FAILED_SUMMARY_MSG == "failed to handle the end-of-test summary"


def test_non_object_result(tmp_path):
    for value in ("text", 5, [1, 2], True):
        res, out, _ = _apply(value, tmp_path, default_stdout="S")
        assert res.errors == ["handleSummary() should return a map with string keys"] and out == b""


def test_unwritable_path_other_keys_still_written(tmp_path):
    res, out, _ = _apply({"stdout": "still", "no/dir/x.txt": "a", "ok.txt": "b"}, tmp_path)
    assert out == b"still" and (tmp_path / "ok.txt").read_text() == "b"
    assert res.errors == ["Could not save some summary information:\n\t- could not open 'no/dir/x.txt': "
                          "open no/dir/x.txt: no such file or directory"]
    (tmp_path / "adir").mkdir()
    res, _, _ = _apply({"adir": "x", "no/y": "z"}, tmp_path)
    assert res.errors == ["Could not save some summary information:\n"
                          "\t- could not open 'adir': open adir: is a directory\n"
                          "\t- could not open 'no/y': open no/y: no such file or directory"]
