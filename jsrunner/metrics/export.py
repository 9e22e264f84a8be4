"""The ``handleSummary(data)`` argument (runner.md §8.4), the ``--summary-export`` JSON
(§8.3) and applying a ``handleSummary`` return value (runtime.md §1.3).

The data object is plain JSON-able Python (dicts/lists/numbers) so the JS bridge can
hand it to the script as is. Writing a handleSummary result never raises and never
logs: it returns the ``error=`` texts and the caller logs them with
``FAILED_SUMMARY_MSG``, because k6 keeps the exit code untouched in all these cases.
"""

from __future__ import annotations

import base64
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from jsrunner.metrics.engine import GroupNode, MetricsEngine
from jsrunner.metrics.summary import DEFAULT_TREND_STATS, metric_values

__all__ = [
    "UNDEFINED", "FAILED_SUMMARY_MSG", "build_summary_data", "summary_export_json",
    "legacy_export_object", "apply_handle_summary_result", "HandleSummaryOutcome",
    "js_json_value",
]


class _Undefined:
    """Marker for JS ``undefined`` (``setup_data`` absent)."""

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED: Any = _Undefined()
FAILED_SUMMARY_MSG = "failed to handle the end-of-test summary"


def js_json_value(v: Any) -> Any:
    """Normalise numbers like JSON.stringify shows them: integral floats as ints,
    NaN/±Infinity as ``None`` (``null``)."""
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            return None
        if v.is_integer() and abs(v) < 2**53:
            return int(v)
        return v
    if isinstance(v, Mapping):
        return {k: js_json_value(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [js_json_value(x) for x in v]
    return v


def _group_dict(g: GroupNode) -> dict[str, Any]:
    return {
        "name": g.name, "path": g.path, "id": g.id,
        "groups": [_group_dict(c) for c in g.groups.values()],
        "checks": [{"name": c.name, "path": c.path, "id": c.id, "passes": c.passes, "fails": c.fails}
                   for c in g.checks.values()],
    }


def build_summary_data(engine: MetricsEngine, duration_ms: float, *,
                       trend_stats: Sequence[str] = DEFAULT_TREND_STATS, time_unit: str = "",
                       no_color: bool = False, is_stdout_tty: bool = False,
                       is_stderr_tty: bool = False, setup_data: Any = UNDEFINED) -> dict[str, Any]:
    """The object passed to ``handleSummary(data)``.

    ``metrics`` lists every observed metric and sub-metric (``engine.observed()``);
    thresholds appear as ``{source: {ok}}`` using the last evaluation, so evaluate the
    thresholds before calling this. ``setup_data`` is left out when ``UNDEFINED``.
    """
    metrics: dict[str, Any] = {}
    thresholds = engine.thresholds()
    for name in engine.observed():
        m = engine.metric(name)
        entry: dict[str, Any] = {
            "type": m.type.value, "contains": m.contains.value,
            "values": js_json_value(metric_values(engine.sink(name), m.type.value, duration_ms, trend_stats)),
        }
        if name in thresholds:
            entry["thresholds"] = {t.source: {"ok": not t.last_failed} for t in thresholds[name]}
        metrics[name] = entry
    data: dict[str, Any] = {
        "root_group": _group_dict(engine.root_group),
        "options": {"summaryTrendStats": list(trend_stats), "summaryTimeUnit": time_unit,
                    "noColor": no_color},
        "state": {"isStdOutTTY": is_stdout_tty, "isStdErrTTY": is_stderr_tty,
                  "testRunDurationMs": float(duration_ms)},
        "metrics": metrics,
    }
    if setup_data is not UNDEFINED:
        data["setup_data"] = setup_data
    return data


def _legacy_group(g: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": g["name"], "path": g["path"], "id": g["id"],
        "groups": {c["name"]: _legacy_group(c) for c in g["groups"]},
        "checks": {c["name"]: dict(c) for c in g["checks"]},
    }


def legacy_export_object(data: Mapping[str, Any]) -> dict[str, Any]:
    """The ``--summary-export`` object from a handleSummary data object: groups/checks
    keyed by name, metric values flattened, thresholds ``true`` = crossed, Rate ``rate``
    renamed ``value``; ``options``/``state`` dropped."""
    metrics: dict[str, Any] = {}
    for name, m in data["metrics"].items():
        vals = dict(m["values"])
        ths = m.get("thresholds")
        if ths:
            vals["thresholds"] = {src: not t["ok"] for src, t in ths.items()}
        if m["type"] == "rate" and "rate" in vals:
            vals["value"] = vals.pop("rate")
        metrics[name] = vals
    out: dict[str, Any] = {"root_group": _legacy_group(data["root_group"]), "metrics": metrics}
    if "setup_data" in data:
        out["setup_data"] = data["setup_data"]
    return out


def summary_export_json(data: Mapping[str, Any]) -> str:
    """Text of the ``--summary-export`` file (``JSON.stringify(…, null, 4)`` layout)."""
    return json.dumps(js_json_value(legacy_export_object(data)), indent=4, ensure_ascii=False)


# ---------------------------------------------------------------- handleSummary result

@dataclass
class HandleSummaryOutcome:
    """What happened to a handleSummary return value."""

    #: the value was falsy: the default text summary went to stdout (when given)
    used_default: bool = False
    #: ``error=`` texts to log with msg ``FAILED_SUMMARY_MSG`` (one per failure)
    errors: list[str] = field(default_factory=list)


def _go_type(v: Any) -> str:
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int64"
    if isinstance(v, float):
        return "int64" if v.is_integer() else "float64"
    if isinstance(v, Mapping):
        return "map[string]interface {}"
    if isinstance(v, (list, tuple)):
        return "[]interface {}"
    return type(v).__name__


def _as_bytes(v: Any) -> bytes | None:
    if isinstance(v, str):
        return v.encode("utf-8")
    if isinstance(v, (bytes, bytearray)):
        return bytes(v)
    if isinstance(v, Mapping) and set(v) == {"__bytes_b64__"}:
        return base64.b64decode(v["__bytes_b64__"])
    return None


def _go_errno_text(e: OSError) -> str:
    text = os.strerror(e.errno) if e.errno else str(e)
    return text[:1].lower() + text[1:] if text else text


def _is_falsy(v: Any) -> bool:
    if isinstance(v, float) and math.isnan(v):
        return True
    return not v and not isinstance(v, (Mapping, list, tuple))


def apply_handle_summary_result(
    result: Any, *, write_stdout: Callable[[bytes], Any], write_stderr: Callable[[bytes], Any],
    default_stdout: str | None = None, cwd: str | os.PathLike[str] = ".",
    export_path: str | None = None, export_text: str | None = None,
) -> HandleSummaryOutcome:
    """Write a ``handleSummary`` return value like k6's summary wrapper does.

    * falsy (``None``/``undefined``, ``false``, ``0``, ``""``) → ``default_stdout`` to stdout;
    * a dict: ``stdout``/``stderr`` keys to those streams, any other key is a file path
      relative to ``cwd`` (created/truncated, parents not created). Values are ``str``
      or ``{"__bytes_b64__": …}`` (ArrayBuffer/typed array); any other value type fails
      the whole result before anything is written;
    * anything else → ``handleSummary() should return a map with string keys``.
    ``export_path``/``export_text`` (``--summary-export``) is added to the result and
    overrides a key with the same path.
    """
    out = HandleSummaryOutcome()
    if _is_falsy(result):
        out.used_default = True
        result = {} if default_stdout is None else {"stdout": default_stdout}
    elif not isinstance(result, Mapping):
        out.errors.append("handleSummary() should return a map with string keys")
        return out
    result = dict(result)
    if export_path:
        result[export_path] = export_text if export_text is not None else ""
    payloads: list[tuple[str, bytes]] = []
    for key, value in result.items():
        data = _as_bytes(value)
        if data is None:
            out.errors.append(f"error handling summary object {key}: invalid type {_go_type(value)}, "
                              "it needs to be a string or ArrayBuffer")
            return out
        payloads.append((str(key), data))
    failures: list[str] = []
    for key, data in payloads:
        if key == "stdout":
            write_stdout(data)
            continue
        if key == "stderr":
            write_stderr(data)
            continue
        full = os.path.join(os.fspath(cwd), key)
        try:
            fh = open(full, "wb", buffering=0)  # unbuffered: "after N bytes" counts what was written
        except OSError as e:
            failures.append(f"could not open '{key}': open {key}: {_go_errno_text(e)}")
            continue
        written = 0
        try:
            with fh:
                view = memoryview(data)
                while written < len(data):
                    written += fh.write(view[written:]) or 0
        except OSError as e:
            failures.append(f"error saving summary to '{key}' after {written} bytes: "
                            f"write {key}: {_go_errno_text(e)}")
    if failures:
        out.errors.append("Could not save some summary information:\n"
                          + "\n".join(f"\t- {f}" for f in failures))
    return out

