"""Python API: run a k6 script in this process and get its numbers back.

::

    import jsrunner

    result = jsrunner.run("samples/checks_groups.k6.js", vus=2, iterations=10)
    result.exit_code                             # k6's exit code (0, 99, 108, 110, ...)
    result.metrics["iterations"]["values"]       # as in handleSummary's data.metrics
    result.failed_checks                         # [Check(name, path, passes, fails)]
    result.failed_thresholds                     # [Threshold(metric, expression, ok, ...)]
    result.summary_text                          # the end-of-test summary k6 would print
    result.log_lines                             # log/console lines (k6's logfmt)

Errors that stop a test before it can produce results raise instead of returning:
:class:`jsrunner.errors.ScriptError` (exit 107: an exception in init/setup/teardown code,
a module that cannot be loaded), :class:`jsrunner.errors.ConfigError` (exit 104: invalid
options), :class:`jsrunner.errors.JsRunnerError` (exit 255: e.g. the script file does not
exist). The exception carries the partial :class:`Result` as ``exc.result``. Every other
outcome (thresholds crossed, ``exec.test.abort()``, ``exec.test.fail()``, setup timeouts)
returns a :class:`Result`; ``result.raise_for_status()`` turns a non-zero exit into an
exception when that is more convenient.

Metrics, checks and thresholds come from the end-of-test summary data, so they are empty
when the run is told ``no_summary=True``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .errors import (
    AbortedError,
    ConfigError,
    ExitCode,
    JsRunnerError,
    ScriptError,
    ThresholdsFailed,
    TimeoutError_,
)

__all__ = ["Check", "Result", "Threshold", "run", "run_source"]

#: RunConfig fields the keyword arguments of :func:`run` may not set directly
_RESERVED = {"script", "stdout", "stderr", "vus", "iterations", "duration", "env", "options"}

_THRESHOLD_AGG = re.compile(r"^\s*([A-Za-z]+(?:\(\s*[0-9.]+\s*\))?)\s*(?:<=|>=|===|==|!=|<|>)")
_MSG_TEXT = re.compile(r'\bmsg=("(?:[^"\\]|\\.)*"|\S*)')
_LEVEL_TEXT = re.compile(r"\blevel=(\w+)")


@dataclass(frozen=True)
class Check:
    """One check() name at one group path, with its pass/fail counts."""

    name: str
    path: str
    passes: int
    fails: int

    @property
    def ok(self) -> bool:
        return self.fails == 0

    @property
    def group(self) -> str:
        """The group path (``::outer::inner``), ``""`` at the top level."""
        return self.path.rsplit("::", 1)[0] if "::" in self.path else ""

    def __str__(self) -> str:
        mark = "✓" if self.ok else "✗"
        where = self.path[2:] if self.path.startswith("::") else (self.path or self.name)
        return f"{mark} {where}: {self.passes} passed, {self.fails} failed"


@dataclass(frozen=True)
class Threshold:
    """One threshold expression on one metric (or submetric, ``name{tag:value}``)."""

    metric: str
    expression: str
    ok: bool
    #: the aggregation the expression tests (``rate``, ``p(95)``, ...) and its value, if known
    aggregation: str | None = None
    value: float | None = None

    def __str__(self) -> str:
        mark = "✓" if self.ok else "✗"
        seen = f" ({self.aggregation}={_fmt_number(self.value)})" if self.aggregation and self.value is not None else ""
        return f"{mark} {self.metric}: '{self.expression}'{seen}"


@dataclass
class Result:
    """What one run produced. ``metrics`` has the shape of handleSummary's ``data.metrics``."""

    script: str
    exit_code: int
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    thresholds: list[Threshold] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)
    summary_text: str = ""
    #: the whole handleSummary data object (root_group, options, state, metrics), if any
    data: dict[str, Any] | None = None
    stdout: str = ""
    stderr: str = ""

    # ---- convenience -------------------------------------------------------------------
    @property
    def ok(self) -> bool:
        """The run exited 0 (what a CI job would treat as a pass)."""
        return self.exit_code == ExitCode.OK

    @property
    def thresholds_ok(self) -> bool:
        return all(t.ok for t in self.thresholds)

    @property
    def failed_thresholds(self) -> list[Threshold]:
        return [t for t in self.thresholds if not t.ok]

    @property
    def checks_ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed_checks(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    def values(self, metric: str) -> dict[str, Any]:
        """``result.values("iterations")`` → ``{"count": 10, "rate": ...}`` ({} if absent)."""
        return dict(self.metrics.get(metric, {}).get("values", {}))

    def value(self, metric: str, stat: str, default: Any = None) -> Any:
        """``result.value("http_req_duration", "p(95)")``."""
        return self.values(metric).get(stat, default)

    def messages(self, level: str | None = None) -> list[str]:
        """The ``msg`` of each log line (optionally only one level: info, warning, error)."""
        out = []
        for line in self.log_lines:
            lvl, msg = _parse_log_line(line)
            if level is None or lvl == level:
                out.append(msg)
        return out

    def raise_for_status(self) -> "Result":
        """Raise the matching :mod:`jsrunner.errors` exception unless the exit code is 0."""
        if self.exit_code == ExitCode.OK:
            return self
        raise _error_for(self)


# ---- running ---------------------------------------------------------------------------
def run(script: str | os.PathLike[str], *, vus: int | None = None, iterations: int | None = None,
        duration: str | int | float | None = None, env: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None, echo: bool = False, **more: Any) -> Result:
    """Run a k6 script file like ``jsrunner run`` would, in this process.

    ``vus``/``iterations``/``duration`` act like the ``-u``/``-i``/``-d`` flags (``duration``
    may be a Go duration string or seconds); ``env`` adds ``__ENV`` values (over the process
    environment, like ``-e``); ``options`` is a k6 options object layered over the script's
    ``export const options`` (e.g. ``{"thresholds": {...}}``, ``{"scenarios": {...}}``).
    ``echo=True`` also prints the output (banner, progress, summary, logs) as the CLI would.
    Any other keyword sets the :class:`jsrunner.runner.RunConfig` field of that name
    (``stages=["5s:10"]``, ``tags={...}``, ``summary_export=path``, ``no_thresholds=True``,
    ``include_system_env=False``, ``config_file=path``, ``out=["json=x.json"]``, ...).
    """
    from .runner import RunConfig, Runner

    known = {f.name for f in dataclasses.fields(RunConfig)}
    for key in more:
        if key not in known or key in _RESERVED:
            raise TypeError(f"jsrunner.run() got an unexpected keyword argument {key!r}")
    if isinstance(duration, (int, float)) and not isinstance(duration, bool):
        duration = f"{duration:g}s"
    more.setdefault("quiet", not echo)

    out, err = io.StringIO(), io.StringIO()
    stdout: IO[str] = _Tee(out, sys.stdout) if echo else out
    stderr: IO[str] = _Tee(err, sys.stderr) if echo else err
    cfg = RunConfig(script=os.fspath(script), vus=vus, iterations=iterations, duration=duration,
                    env={str(k): _env_value(v) for k, v in (env or {}).items()},
                    options=dict(options) if options else None, stdout=stdout, stderr=stderr, **more)
    runner = Runner(cfg)
    raw = runner.run()
    result = _result(cfg.script, raw.exit_code, raw.summary_data, out.getvalue(), err.getvalue(),
                     list(raw.log_lines))
    if result.exit_code in (ExitCode.SCRIPT_EXCEPTION, ExitCode.INVALID_CONFIG, ExitCode.FATAL):
        raise _error_for(result)
    return result


def run_source(source: str, *, filename: str = "script.js", **kwargs: Any) -> Result:
    """Run JavaScript source text (written to a temporary file named ``filename``).

    Relative imports resolve against that temporary folder, so use :func:`run` for scripts
    that import local modules.
    """
    with tempfile.TemporaryDirectory(prefix="jsrunner-") as tmp:
        path = Path(tmp) / filename
        path.write_text(source, encoding="utf-8")
        return run(path, **kwargs)


# ---- helpers ---------------------------------------------------------------------------
class _Tee(io.TextIOBase):
    def __init__(self, *streams: IO[str]) -> None:
        self.streams = streams

    def write(self, text: str) -> int:  # type: ignore[override]
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()

    def isatty(self) -> bool:
        return False


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _result(script: str, code: int, data: dict[str, Any] | None, stdout: str, stderr: str,
            recent: list[str]) -> Result:
    metrics = dict((data or {}).get("metrics") or {})
    checks = list(_walk_checks((data or {}).get("root_group") or {}))
    thresholds = []
    for name, metric in metrics.items():
        for expr, state in (metric.get("thresholds") or {}).items():
            ok = bool(state.get("ok")) if isinstance(state, Mapping) else not bool(state)
            agg, value = _threshold_value(expr, metric.get("values") or {})
            thresholds.append(Threshold(name, expr, ok, agg, value))
    lines = [line for line in stderr.splitlines() if line.strip()] or recent
    return Result(script=script, exit_code=code, metrics=metrics, checks=checks, thresholds=thresholds,
                  log_lines=lines, summary_text=stdout, data=data, stdout=stdout, stderr=stderr)


def _walk_checks(group: Mapping[str, Any]) -> Iterable[Check]:
    for check in _items(group.get("checks")):
        yield Check(str(check.get("name", "")), str(check.get("path", "")),
                    int(check.get("passes", 0)), int(check.get("fails", 0)))
    for sub in _items(group.get("groups")):
        yield from _walk_checks(sub)


def _items(value: Any) -> list[Mapping[str, Any]]:
    if isinstance(value, Mapping):  # the legacy (summary-export) shape: keyed by name
        return list(value.values())
    return list(value or [])


def _threshold_value(expr: str, values: Mapping[str, Any]) -> tuple[str | None, float | None]:
    m = _THRESHOLD_AGG.match(expr)
    if not m:
        return None, None
    agg = re.sub(r"\s+", "", m.group(1))
    value = values.get(agg)
    if value is None and agg == "count" and "value" in values:
        value = values.get("value")
    return agg, value if isinstance(value, (int, float)) else None


def _fmt_number(value: float | None) -> str:
    if value is None:
        return "?"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.6g}"


def _parse_log_line(line: str) -> tuple[str | None, str]:
    if line.startswith("{"):
        try:
            record = json.loads(line)
            return record.get("level"), str(record.get("msg", ""))
        except ValueError:
            pass
    level = _LEVEL_TEXT.search(line)
    msg = _MSG_TEXT.search(line)
    if msg is None:
        return (level.group(1) if level else None), line
    raw = msg.group(1)
    try:
        text = json.loads(raw) if raw.startswith('"') else raw
    except ValueError:
        text = raw
    return (level.group(1) if level else None), text


def _error_for(result: Result) -> JsRunnerError:
    errors = result.messages("error")
    message = errors[-1] if errors else f"k6 script {result.script} exited with code {result.exit_code}"
    code = result.exit_code
    exc: JsRunnerError
    if code == ExitCode.SCRIPT_EXCEPTION:
        exc = ScriptError(message)
    elif code == ExitCode.INVALID_CONFIG:
        exc = ConfigError(message)
    elif code == ExitCode.THRESHOLDS_FAILED:
        crossed = ", ".join(f"{t.metric}: {t.expression}" for t in result.failed_thresholds)
        exc = ThresholdsFailed(f"thresholds crossed: {crossed}" if crossed else message)
    elif code in (ExitCode.SETUP_TIMEOUT, ExitCode.TEARDOWN_TIMEOUT):
        exc = TimeoutError_(message, exit_code=code)
    elif code == ExitCode.SCRIPT_ABORTED:
        exc = AbortedError(message)
    else:
        exc = JsRunnerError(message, exit_code=code)
    exc.result = result  # type: ignore[attr-defined]
    return exc
