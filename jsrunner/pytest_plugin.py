"""pytest plugin: collect k6 scripts and run each one as a test item with jsrunner.

Installed with jsrunner (entry point ``pytest11: jsrunner``); disable with ``-p no:jsrunner``.

Collection
    Files whose name matches ``jsrunner_glob`` (ini, default ``*.k6.js``; several globs
    allowed; a glob containing ``/`` is matched against the path relative to the rootdir)
    and files listed in ``pyproject.toml``::

        [tool.jsrunner]
        scripts = ["load/smoke.js", "load/soak.js"]   # relative to pyproject.toml

    become one test item each (``path/to/script.k6.js::script``). Listed scripts need not
    match the glob; when pytest runs without explicit paths (``testpaths``/rootdir) they
    are added to the collection even if they lie outside ``testpaths``.

Outcome
    An item fails when the script's exit code is not the expected one (0 unless
    ``expect_exit`` says otherwise: 99 = thresholds crossed, 107 = script error, 104 =
    invalid options, ...) or, with ``jsrunner_fail_on_checks = true`` (the default), when
    any check() failed. The report lists the crossed thresholds, the failed checks and the
    last log lines; the full end-of-test summary and log are attached as report sections
    (``-rA`` shows them for passing items too; ``-s`` streams the output live).
    ``--junitxml`` gets one testcase per script with ``exit_code``/``checks_*`` properties.

Options, lowest precedence first
    1. ini ``jsrunner_env``: ``KEY=VALUE`` lines added to ``__ENV``;
    2. ini ``jsrunner_serve = true`` (or ``--jsrunner-serve``): start jsrunner's bundled
       test server once per process (per xdist worker) and set ``WS_URL``/``BASE_URL``;
    3. ini ``jsrunner_options``: one JSON object per line, either ``{...}`` (every script)
       or ``GLOB {...}`` (scripts whose name or rootdir-relative path matches GLOB);
    4. the script's own header comment, one or more lines in the leading comment block::

           // jsrunner: {"vus": 2, "duration": "5s", "env": {"ROOM": "t1"}}

    Keys: ``vus``, ``iterations``, ``duration``, ``stages``, ``env`` (merged), ``options``
    (a k6 options object over the script's ``export const options``, merged), ``tags``
    (merged) and any other keyword of :func:`jsrunner.run`; plus ``serve`` (bool),
    ``fail_on_checks`` (bool), ``expect_exit`` (int), ``skip`` / ``xfail`` (true or a
    reason: marker-like) and ``markers`` (names added as pytest markers, for ``-m``).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import os
import re
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

# Imported once, with the plugin: pytester's in-process runs restore sys.modules after each
# run, and exception classes must stay the same objects for the except clause below.
from . import api as _api
from .errors import JsRunnerError as _JsRunnerError

_HEADER = re.compile(r"^\s*(?://+|/\*+|\*+)\s*jsrunner:\s*(\{.*\})\s*(?:\*/)?\s*$")
_COMMENT = re.compile(r"^\s*(?://|/\*|\*)")
_MERGED = ("env", "options", "tags")
_PLUGIN_KEYS = {"serve", "fail_on_checks", "expect_exit", "skip", "xfail", "markers"}
_LOG_TAIL = 20

EXIT_MEANINGS = {
    0: "ok", 99: "thresholds crossed", 100: "setup() timed out", 101: "teardown() timed out",
    104: "invalid configuration", 105: "stopped by a signal", 107: "script exception",
    108: "aborted by exec.test.abort()", 109: "Go panic", 110: "marked failed by exec.test.fail()",
    255: "fatal error",
}


# ---- options and hooks -----------------------------------------------------------------
def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("jsrunner", "k6 scripts run by jsrunner")
    group.addoption("--jsrunner-serve", action="store_true", default=False,
                    help="start jsrunner's bundled test server and set WS_URL/BASE_URL for scripts")
    parser.addini("jsrunner_glob", "glob(s) of k6 scripts to collect (default: *.k6.js)",
                  type="args", default=["*.k6.js"])
    parser.addini("jsrunner_fail_on_checks", "fail a script's test when any check() failed (default: true)",
                  type="bool", default=True)
    parser.addini("jsrunner_options", "per-script options: lines '{json}' or 'GLOB {json}'",
                  type="linelist", default=[])
    parser.addini("jsrunner_env", "KEY=VALUE lines added to every script's __ENV",
                  type="linelist", default=[])
    parser.addini("jsrunner_serve", "start the bundled test server and set WS_URL/BASE_URL (default: false)",
                  type="bool", default=False)


class _State:
    """Per-session plugin state (``config.stash``): listed scripts, the lazy test server."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.globs: list[str] = list(config.getini("jsrunner_glob") or ["*.k6.js"])
        self.listed: set[Path] = set(_listed_scripts(config))
        self._server: Any = None
        self._lock = threading.Lock()

    def server_url(self) -> str:
        with self._lock:
            if self._server is None:
                from .testserver import ServerThread
                self._server = ServerThread().start()
            return self._server.url

    def close(self) -> None:
        with self._lock:
            if self._server is not None:
                self._server.stop()
                self._server = None

    def wanted(self, path: Path) -> bool:
        if self.listed and path.resolve() in self.listed:
            return True
        rel = _relpath(path, self.config.rootpath)
        for pattern in self.globs:
            target = rel if "/" in pattern else path.name
            if fnmatch.fnmatch(target, pattern):
                return True
        return False


_STATE = pytest.StashKey[_State]()


def pytest_configure(config: pytest.Config) -> None:
    state = _State(config)
    config.stash[_STATE] = state
    # Scripts listed in [tool.jsrunner] join a run that has no explicit paths.
    source = getattr(config, "args_source", None)
    if state.listed and source is not None and source != pytest.Config.ArgsSource.ARGS:
        base = config.invocation_params.dir
        covered = [(base / a.split("::", 1)[0]).resolve() for a in config.args]
        for script in sorted(state.listed):
            if not any(script == c or c in script.parents for c in covered):
                config.args.append(str(script))


def pytest_unconfigure(config: pytest.Config) -> None:
    state = config.stash.get(_STATE, None)
    if state is not None:
        state.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> "K6ScriptFile | None":
    state = parent.config.stash.get(_STATE, None)
    if state is not None and state.wanted(file_path):
        return K6ScriptFile.from_parent(parent, path=file_path)
    return None


# ---- collection --------------------------------------------------------------------------
class JsRunnerOptionsError(Exception):
    """A jsrunner option line or header comment that cannot be used."""


class K6ScriptFile(pytest.File):
    def collect(self) -> Iterator["K6ScriptItem"]:
        spec = script_spec(self.config, self.path)
        name = self.path.name
        for suffix in (".k6.js", ".js", ".mjs", ".ts"):
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name[: -len(suffix)]
                break
        item = K6ScriptItem.from_parent(self, name=name, spec=spec)
        skip, xfail = spec.get("skip"), spec.get("xfail")
        if skip:
            item.add_marker(pytest.mark.skip(reason=skip if isinstance(skip, str) else "jsrunner: skip"))
        if xfail:
            item.add_marker(pytest.mark.xfail(reason=xfail if isinstance(xfail, str) else "jsrunner: xfail",
                                              strict=False))
        for marker in spec.get("markers") or []:
            item.add_marker(str(marker))
        yield item

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, JsRunnerOptionsError):
            return f"{self.path}: {excinfo.value}"
        return super().repr_failure(excinfo)


def script_spec(config: pytest.Config, path: Path) -> dict[str, Any]:
    """The merged jsrunner options for one script (ini lines, then the header comment)."""
    spec: dict[str, Any] = {}
    env: dict[str, str] = {}
    for line in config.getini("jsrunner_env"):
        key, sep, value = line.partition("=")
        if not sep:
            raise JsRunnerOptionsError(f"jsrunner_env line {line!r} is not KEY=VALUE")
        env[key.strip()] = value.strip()
    if env:
        spec["env"] = env
    rel = _relpath(path, config.rootpath)
    for line in config.getini("jsrunner_options"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("{"):
            pattern, text = None, line
        else:
            pattern, _, text = line.partition(" ")
            text = text.strip()
        if pattern is not None and not (fnmatch.fnmatch(path.name, pattern) or fnmatch.fnmatch(rel, pattern)):
            continue
        _merge(spec, _parse_json(text, f"jsrunner_options line {line!r}"))
    for text in header_options(path):
        _merge(spec, _parse_json(text, f"header comment 'jsrunner: {text}'"))
    _validate(spec)
    return spec


def header_options(path: Path) -> list[str]:
    """The JSON texts of ``// jsrunner: {...}`` lines in the script's leading comments."""
    found = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return found
    in_block = False
    for line in lines:
        stripped = line.strip()
        if not stripped:
            continue
        if in_block or _COMMENT.match(line) or stripped.startswith("#!"):
            m = _HEADER.match(line)
            if m:
                found.append(m.group(1))
            if stripped.startswith("/*") and "*/" not in stripped:
                in_block = True
            elif "*/" in stripped:
                in_block = False
            continue
        break
    return found


def _parse_json(text: str, where: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise JsRunnerOptionsError(f"{where}: invalid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise JsRunnerOptionsError(f"{where}: expected a JSON object")
    return value


def _merge(spec: dict[str, Any], more: Mapping[str, Any]) -> None:
    for key, value in more.items():
        if key in _MERGED and isinstance(value, Mapping) and isinstance(spec.get(key), Mapping):
            spec[key] = {**spec[key], **value}
        else:
            spec[key] = value


def _validate(spec: Mapping[str, Any]) -> None:
    from .runner import RunConfig
    allowed = {f.name for f in dataclasses.fields(RunConfig)} - {"script", "stdout", "stderr"}
    unknown = sorted(set(spec) - allowed - _PLUGIN_KEYS - {"echo"})
    if unknown:
        raise JsRunnerOptionsError(f"unknown jsrunner option(s): {', '.join(unknown)}")
    for key in _MERGED:
        if key in spec and not isinstance(spec[key], Mapping):
            raise JsRunnerOptionsError(f"jsrunner option {key!r} must be a JSON object")
    if "expect_exit" in spec and not isinstance(spec["expect_exit"], int):
        raise JsRunnerOptionsError("jsrunner option 'expect_exit' must be an integer")


def _listed_scripts(config: pytest.Config) -> list[Path]:
    candidates = []
    inipath = getattr(config, "inipath", None)
    if inipath is not None and Path(inipath).name == "pyproject.toml":
        candidates.append(Path(inipath))
    candidates.append(Path(config.rootpath) / "pyproject.toml")
    for pyproject in candidates:
        if pyproject.is_file():
            break
    else:
        return []
    import tomllib
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    scripts = data.get("tool", {}).get("jsrunner", {}).get("scripts", [])
    if isinstance(scripts, str):
        scripts = [scripts]
    return [(pyproject.parent / str(s)).resolve() for s in scripts]


def _relpath(path: Path, root: Path) -> str:
    try:
        return Path(os.path.relpath(path, root)).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


# ---- running -----------------------------------------------------------------------------
class K6ScriptFailure(Exception):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class K6ScriptItem(pytest.Item):
    def __init__(self, *, spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.result: Any = None

    def runtest(self) -> None:
        state = self.config.stash[_STATE]
        spec = dict(self.spec)
        fail_on_checks = bool(spec.pop("fail_on_checks", self.config.getini("jsrunner_fail_on_checks")))
        expect_exit = int(spec.pop("expect_exit", 0))
        serve = spec.pop("serve", None)
        for key in ("skip", "xfail", "markers"):
            spec.pop(key, None)
        if serve is None:
            serve = self.config.getini("jsrunner_serve") or self.config.getoption("jsrunner_serve")
        env = dict(spec.pop("env", None) or {})
        if serve:
            url = state.server_url()
            env = {"WS_URL": url, "BASE_URL": url.replace("ws://", "http://", 1), **env}
        spec.setdefault("echo", self.config.getoption("capture", "fd") == "no")

        try:
            result = _api.run(self.path, env=env, **spec)
        except _JsRunnerError as exc:
            result = getattr(exc, "result", None)
            if result is None:
                raise K6ScriptFailure(f"{self._where()}: {exc.message}") from None
        self.result = result
        self._attach(result)
        problems = []
        if result.exit_code != expect_exit:
            meaning = EXIT_MEANINGS.get(result.exit_code, "")
            expected = "" if expect_exit == 0 else f", expected {expect_exit}"
            problems.append(f"exit code {result.exit_code}" + (f" ({meaning})" if meaning else "") + expected)
        if fail_on_checks and result.failed_checks:
            n = len(result.failed_checks)
            problems.append(f"{n} check{'s' if n != 1 else ''} failed")
        if problems:
            raise K6ScriptFailure(self._report(result, problems))

    def _where(self) -> str:
        return _relpath(self.path, self.config.rootpath)

    def _attach(self, result: Any) -> None:
        if result.summary_text.strip():
            self.add_report_section("call", "k6 summary", result.summary_text)
        if result.log_lines:
            self.add_report_section("call", "k6 log", "\n".join(result.log_lines) + "\n")
        self.user_properties.append(("exit_code", result.exit_code))
        if result.checks:
            self.user_properties.append(("checks_passed", sum(c.passes for c in result.checks)))
            self.user_properties.append(("checks_failed", sum(c.fails for c in result.checks)))
        iterations = result.value("iterations", "count")
        if iterations is not None:
            self.user_properties.append(("iterations", iterations))

    def _report(self, result: Any, problems: list[str]) -> str:
        lines = [f"k6 script {self._where()} failed: " + "; ".join(problems)]
        crossed = result.failed_thresholds
        if crossed:
            lines.append("crossed thresholds:")
            lines += [f"  {t}" for t in crossed]
        failed = result.failed_checks
        if failed:
            lines.append("failed checks:")
            lines += [f"  {c}" for c in failed]
        errors = result.messages("error")
        if errors and result.exit_code not in (0, 99):
            lines.append("error:")
            lines += ["  " + part for part in errors[-1].rstrip().splitlines()]
        tail = result.log_lines[-_LOG_TAIL:]
        if tail:
            lines.append(f"last log lines ({len(tail)} of {len(result.log_lines)}):")
            lines += [f"  {line}" for line in tail]
        return "\n".join(lines)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, K6ScriptFailure):
            return excinfo.value.text
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, f"k6 script {self._where()}"
