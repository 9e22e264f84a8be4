"""Child processes of a multi-process run: ``python -m jsrunner.worker``.

The first line on stdin is the job (JSON); later lines are commands. Messages go out on the
original stdout as JSON lines (the process's own fd 1 is pointed at stderr, so a stray print
can never corrupt the stream). EOF on stdin means the coordinator is gone: exit at once.

Jobs
----
``{"mode": "segment", "script", "config", "segment", "sequence", "setup_json"}``
    :func:`jsrunner.segment_runner.run_segment`; commands ``start``, ``stop``, ``hard_stop``.
``{"mode": "lifecycle", "script", "config"}``
    the options pass, then ``setup``, ``teardown`` and ``summary`` on command (the code that
    runs once per test), each in its own runtime as in a single-process run.
``{"mode": "host", "script", "config"}``
    a lifecycle child that also runs one segment: ``{"cmd": "segment", "segment",
    "sequence", "setup_json"}`` starts it in a thread of its own (then ``start``, ``stop``
    and ``hard_stop`` are the segment's); the lifecycle commands keep working, before and
    after the segment. The first child of a local multi-process run: the code that runs
    once per test needs no Python process (and imports) of its own.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from typing import Any

from .errors import ExitCode, JsRunnerError, ScriptError
from .runner import _NO_HANDLE_SUMMARY, RunConfig, Runner, run_env
from .segment_runner import (Control, Emit, ForwardStream, config_from_dict, quiet_logger, run_segment,
                             take_delta)
from .vu import VU


class LifecycleRunner(Runner):
    """setup(), teardown() and handleSummary() of a multi-process run, in one child."""

    def __init__(self, cfg: RunConfig, emit: Emit) -> None:
        super().__init__(cfg)
        self.emit = emit

    def prepare(self) -> dict[str, Any]:
        """The options pass (as in Runner._run) and the plan; the ``init`` message."""
        from .executors import RunState
        from .planning import build_plan
        cfg = self.cfg
        _, env = run_env(cfg)
        self.env = env
        probe = self._options_pass(env)
        ctx = self.ctx
        exports = probe.exports
        options = probe.script_options or {}
        plan = build_plan(cfg, options, exports, env, quiet_logger())
        plan.outputs = []
        self.plan = plan
        ctx.options = plan.options_view
        self.hub.configure(plan)
        state = RunState(env, plan.global_tags)
        state.warn = lambda msg, **fields: self.logger.warning(msg, **fields)
        if hasattr(state, "error"):
            state.error = lambda msg, **fields: self.logger.error(msg, **fields)
        state.on_abort = getattr(self, "_script_abort", None) or self._abort_hook
        self.state = state
        ctx.state = state
        return {"type": "init", "exports": exports, "options": options,
                "registry": self.hub.registry.snapshot()}

    def _abort_hook(self, text: str, vu: VU) -> None:
        if self.abort_code is None:
            self.abort_code = ExitCode.SCRIPT_ABORTED
            self.abort_message = text

    def _install_signals(self):  # type: ignore[no-untyped-def]
        return None

    def _flush_metrics(self) -> None:
        snap = take_delta(self.hub)
        if snap is not None:
            self.emit({"type": "update", "snapshot": snap})

    def _outcome(self, kind: str, ok: bool) -> dict[str, Any]:
        assert self.state is not None
        return {"type": kind, "ok": ok, "setup_json": self.state.setup_json,
                "abort_code": self.abort_code, "abort_message": self.abort_message,
                "abort_fields": dict(getattr(self, "abort_fields", {}) or {}),
                "marked_failed": bool(getattr(self.state, "marked_failed", False))}

    def interrupt(self) -> None:
        """Ctrl-C on the coordinator: a running setup() is interrupted (teardown() is not)."""
        if self.state is not None:
            self.request_stop()

    def command(self, cmd: dict[str, Any]) -> bool:
        """Run one command; False when the child should exit."""
        name = cmd.get("cmd")
        assert self.state is not None
        if name in ("setup", "teardown"):
            if "setup_json" in cmd:
                self.state.setup_json = cmd["setup_json"]
            self.phase = name
            timeout = self.plan.setup_timeout if name == "setup" else self.plan.teardown_timeout
            ok = self._lifecycle(name, timeout)
            self.phase = "run"
            self._flush_metrics()
            self.emit(self._outcome(name, ok))
            return True
        if name == "summary":
            result = self._handle_summary(cmd["data"], bool(cmd.get("exported")))
            self._flush_metrics()
            if result is _NO_HANDLE_SUMMARY:
                self.emit({"type": "summary", "none": True})
            else:
                self.emit({"type": "summary", "none": False, "result": result})
            return True
        return False


def _lifecycle_main(job: dict[str, Any], emit: Emit, commands: "CommandQueue", keep_going: bool = False) -> int:
    """The lifecycle loop; ``keep_going``: a failing command does not end the process (a
    host's segment may still be running)."""
    out = ForwardStream(emit, "stdout")
    err = ForwardStream(emit, "stderr")
    cfg = config_from_dict(dict(job["config"], script=job["script"]), stdout=out, stderr=err)
    cfg.quiet = True
    cfg.out = []
    runner = LifecycleRunner(cfg, emit)
    commands.runner = runner
    try:
        emit(runner.prepare())
    except JsRunnerError as exc:
        runner.logger.error(exc.message, **exc.fields)
        emit({"type": "fatal", "code": exc.exit_code})
        return exc.exit_code
    while True:
        cmd = commands.get()
        if cmd is None:
            return 0
        try:
            if not runner.command(cmd):
                return 0
        except ScriptError as exc:
            runner.logger.error(exc.message, **exc.fields)
            emit({"type": "fatal", "code": exc.exit_code})
            if not keep_going:
                return exc.exit_code


class CommandQueue:
    """Commands from stdin for the lifecycle child (EOF = the coordinator is gone)."""

    def __init__(self) -> None:
        import queue
        self.q: "queue.SimpleQueue[dict[str, Any] | None]" = queue.SimpleQueue()
        self.runner: LifecycleRunner | None = None

    def put(self, cmd: dict[str, Any] | None) -> None:
        if cmd is not None and cmd.get("cmd") == "interrupt":
            if self.runner is not None:
                self.runner.interrupt()
            return
        self.q.put(cmd)

    def get(self) -> dict[str, Any] | None:
        return self.q.get()


def preload() -> None:
    """Import what a worker imports on first use (planning, the k6 module bindings, the
    WebSocket transport): a process that forks workers calls this first, so they start
    with it imported and share its pages instead of each importing their own copy."""
    import importlib

    from . import bindings, plan, planning, scenarios  # noqa: F401 - imported for the children
    from .metrics import export, summary  # noqa: F401
    for name in bindings.HOST_MODULES:
        try:
            importlib.import_module(f"{bindings.__name__}.{name}")
        except ModuleNotFoundError:
            pass


def main() -> int:
    # messages on a private copy of stdout; fd 1 becomes stderr
    msg_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    out = os.fdopen(msg_fd, "w", encoding="utf-8", newline="\n")
    lock = threading.Lock()
    broken = threading.Event()

    def emit(msg: dict[str, Any]) -> None:
        line = json.dumps(msg, separators=(",", ":"), default=str) + "\n"
        with lock:
            if broken.is_set():
                return
            try:
                out.write(line)
                out.flush()
            except (OSError, ValueError):
                broken.set()
                os._exit(3)

    # the coordinator forwards Ctrl-C as commands; a terminal's SIGINT is not for us
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stdin = sys.stdin
    first = stdin.readline()
    if not first:
        return 3
    job = json.loads(first)
    mode = job.get("mode")
    control = Control()
    commands = CommandQueue()

    def start_segment(cmd: dict[str, Any]) -> None:
        """host: run the segment beside the lifecycle loop (the loop keeps the main thread)."""
        threading.Thread(target=run_segment, name="segment", daemon=True,
                         args=(job["script"], job["config"], cmd["segment"], cmd["sequence"],
                               cmd.get("setup_json"), emit), kwargs={"control": control}).start()

    def read_commands() -> None:
        for line in stdin:
            line = line.strip()
            if not line:
                continue
            try:
                cmd = json.loads(line)
            except ValueError:
                continue
            name = cmd.get("cmd", "")
            if mode == "segment" or (mode == "host" and name in ("start", "stop", "hard_stop")):
                control.command(name, cmd)
            elif mode == "host" and name == "segment":
                start_segment(cmd)
            else:
                commands.put(cmd)
        # EOF: the coordinator closed our stdin (or died) - nobody is listening any more
        os._exit(3)

    threading.Thread(target=read_commands, name="commands", daemon=True).start()
    code = 0
    if mode == "segment":
        run_segment(job["script"], job["config"], job["segment"], job["sequence"], job.get("setup_json"),
                    emit, control=control)
    elif mode == "lifecycle":
        code = _lifecycle_main(job, emit, commands)
    elif mode == "host":
        code = _lifecycle_main(job, emit, commands, keep_going=True)
    else:
        emit({"type": "fatal", "code": ExitCode.FATAL})
        code = ExitCode.FATAL
    with lock:
        try:
            out.flush()
        except (OSError, ValueError):
            pass
    return code


if __name__ == "__main__":
    rc = main()
    sys.stderr.flush()
    os._exit(rc)
