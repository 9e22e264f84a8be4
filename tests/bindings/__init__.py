"""Tests of the JS bindings; :func:`run_script` runs a k6 script through real VUs."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from jsrunner.loader import ModuleLoader
from jsrunner.log import Logger
from jsrunner.vu import VU, Phase, RunContext


@dataclass
class Result:
    console: list[str] = field(default_factory=list)  # console.* lines (raw text)
    errors: list[str | None] = field(default_factory=list)  # error of each iteration (None = ok)
    init_error: str | None = None
    samples: list[Any] = field(default_factory=list)  # [metric, value, tags, time, metadata]

    @property
    def out(self) -> list[Any]:
        """console lines parsed as JSON (scripts print ``JSON.stringify(x)``)."""
        return [json.loads(line) for line in self.console]


class _Iterations:
    def __init__(self, n: int, result: Result) -> None:
        self.n = n
        self.i = 0
        self.result = result

    def next_phase(self, vu: VU) -> Phase | None:
        if self.i >= self.n:
            return None
        self.i += 1
        return Phase("iter", iteration=self.i - 1)

    def phase_done(self, vu: VU, phase: Phase) -> None:
        self.result.errors.append(phase.error)


class _Console(io.StringIO):
    """A console sink that several VU threads may write to."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()

    def write(self, s: str) -> int:
        with self.lock:
            return super().write(s)


def make_context(script_path: str, *, env: dict[str, str] | None = None,
                 loader: ModuleLoader | None = None) -> tuple[RunContext, Result, _Console]:
    result = Result()
    console = _Console()
    logger = Logger(io.StringIO(), fmt="raw", console_file=console, level="debug")
    ctx = RunContext(loader=loader or ModuleLoader(script_path), logger=logger, env=dict(env or {}),
                     sample_sink=lambda vu, s: result.samples.extend(s))
    return ctx, result, console


def run_script(tmp_path: Any, source: str, *, iterations: int = 1, env: dict[str, str] | None = None,
               loader_cls: type[ModuleLoader] = ModuleLoader, name: str = "script.js") -> Result:
    """Write ``source`` to ``tmp_path/name``, init one VU and run ``iterations`` iterations."""
    path = os.path.join(str(tmp_path), name)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(source)
    ctx, result, console = make_context(path, env=env, loader=loader_cls(path))
    vu = VU(1, ctx)
    try:
        vu.initialise()
    except Exception as exc:  # noqa: BLE001 - reported to the test
        result.init_error = getattr(exc, "message", str(exc))
    else:
        vu.run_forever(_Iterations(iterations, result))
    result.console = [line for line in console.getvalue().split("\n") if line != ""]
    return result


def first_line(error: str | None) -> str | None:
    """The message line of a k6-style error text (without the stack frames)."""
    return None if error is None else error.split("\n", 1)[0]


# ---- helpers of the WebSocket tests (k6/ws and k6/websockets) ---------------------------


def uniq(path: str) -> str:
    """A private path of the same endpoint: server counters of this test only."""
    return f"{path}/t-{uuid.uuid4().hex[:8]}"


def refused_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def json_points(path) -> list[dict]:
    """The ``Point`` lines of a ``--out json`` file."""
    points = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            if d.get("type") == "Point":
                points.append(d)
    return points
