"""One error hierarchy for jsrunner.

Every failure that ends a run maps to one of k6's exit codes, so the CLI can turn any
``JsRunnerError`` into the right process status without knowing where it came from.
"""

from __future__ import annotations


class ExitCode:
    """k6's process exit codes (runner.md §5)."""

    OK = 0
    THRESHOLDS_FAILED = 99
    SETUP_TIMEOUT = 100
    TEARDOWN_TIMEOUT = 101
    INVALID_CONFIG = 104
    EXTERNAL_ABORT = 105
    SCRIPT_EXCEPTION = 107
    SCRIPT_ABORTED = 108
    GO_PANIC = 109
    MARKED_AS_FAILED = 110
    FATAL = 255


class JsRunnerError(Exception):
    """Base of every error jsrunner raises on purpose."""

    exit_code: int = ExitCode.FATAL
    #: extra logfmt fields for the log line (e.g. ``hint="script exception"``)
    fields: dict[str, str] = {}

    def __init__(self, message: str, *, exit_code: int | None = None,
                 fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code
        if fields is not None:
            self.fields = fields


class ConfigError(JsRunnerError):
    """Invalid options, scenarios, thresholds or durations (exit 104)."""

    exit_code = ExitCode.INVALID_CONFIG


class CommandLineError(JsRunnerError):
    """Bad flags or flag values (exit 255, like cobra in k6)."""

    exit_code = ExitCode.FATAL


class ScriptError(JsRunnerError):
    """An exception in init, setup or teardown code, or a module that cannot load (exit 107)."""

    exit_code = ExitCode.SCRIPT_EXCEPTION

    def __init__(self, message: str, **kw: object) -> None:
        kw.setdefault("fields", {"hint": "script exception"})
        super().__init__(message, **kw)  # type: ignore[arg-type]


class ModuleNotFound(ScriptError):
    """An import that names no module we can provide."""


class TimeoutError_(JsRunnerError):
    """setup()/teardown() ran past its timeout (exit 100 / 101)."""


class AbortedError(JsRunnerError):
    """exec.test.abort() was called (exit 108)."""

    exit_code = ExitCode.SCRIPT_ABORTED


class InterruptedRun(JsRunnerError):
    """The run was stopped by SIGINT/SIGTERM (exit 105)."""

    exit_code = ExitCode.EXTERNAL_ABORT


class ThresholdsFailed(JsRunnerError):
    """At least one threshold was crossed (exit 99)."""

    exit_code = ExitCode.THRESHOLDS_FAILED


class MetricError(JsRunnerError):
    """Invalid metric definition or sample (thrown into JS as a GoError)."""
