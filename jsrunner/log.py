"""k6-style log lines (logfmt text, JSON or raw) on stderr, a file, stdout or nowhere.

k6 users grep these lines and some tools parse them, so the shape follows k6 exactly:
``time="2026-11-26T03:48:29Z" level=error msg="..." key=value`` with the extra keys sorted.
One lock serialises writers from VU threads; console lines are rare enough that this
never limits a busy VU.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
import sys
import threading
from collections import deque
from typing import IO

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
_BARE = re.compile(r"^[^\s\"=\\]+$")


def _quote(value: str) -> str:
    if value != "" and _BARE.match(value) and "\x1b" not in value:
        return value
    return json.dumps(value, ensure_ascii=False)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Logger:
    """Writes log records; keeps the last lines for failure reports (pytest plugin, API)."""

    def __init__(self, stream: IO[str] | None = None, *, level: str = "info", fmt: str = "text",
                 console_file: IO[str] | None = None, keep: int = 200) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.level = LEVELS[level]
        self.fmt = fmt
        self.console_file = console_file
        self.recent: deque[str] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self.counts = {"error": 0, "warning": 0}

    def enabled(self, level: str) -> bool:
        return LEVELS[level] >= self.level

    def log(self, level: str, msg: str | None, fields: dict[str, object] | None = None, *,
            console: bool = False) -> None:
        if LEVELS[level] < self.level:
            return
        if level in self.counts:
            self.counts[level] += 1
        fields = dict(fields or {})
        target = self.stream
        if console:
            if self.console_file is not None:
                target = self.console_file
            else:
                fields["source"] = "console"
        line = self.format(level, msg, fields)
        with self._lock:
            self.recent.append(line)
            if target is not None:
                try:
                    target.write(line + "\n")
                    target.flush()
                except (OSError, ValueError):
                    pass

    def format(self, level: str, msg: str | None, fields: dict[str, object]) -> str:
        if self.fmt == "raw":
            return msg or ""
        if self.fmt == "json":
            record: dict[str, object] = {"level": level}
            if msg is not None:
                record["msg"] = msg
            record.update({k: fields[k] for k in fields})
            record["time"] = _now()
            return json.dumps(dict(sorted(record.items())), ensure_ascii=False, separators=(",", ":"))
        parts = [f'time="{_now()}"', f"level={level}"]
        if msg is not None:
            parts.append("msg=" + _quote(msg))
        for key in sorted(fields):
            parts.append(f"{key}={_quote(str(fields[key]))}")
        return " ".join(parts)

    def debug(self, msg: str, **fields: object) -> None:
        self.log("debug", msg, fields)

    def info(self, msg: str, **fields: object) -> None:
        self.log("info", msg, fields)

    def warning(self, msg: str, **fields: object) -> None:
        self.log("warning", msg, fields)

    def error(self, msg: str, **fields: object) -> None:
        self.log("error", msg, fields)


def open_log_file(path: str, *, console: bool = False) -> IO[str]:
    """Open ``--log-output file=PATH`` / ``--console-output PATH`` for appending.

    Failures raise a ``JsRunnerError`` (exit 255) with k6's one-line texts instead of a
    Python traceback.
    """
    from .errors import JsRunnerError
    directory = os.path.dirname(os.path.abspath(path))
    if not console and not os.path.isdir(directory):
        raise JsRunnerError(f"provided directory '{os.path.dirname(path) or directory}' does not exist")
    try:
        return open(path, "a", encoding="utf-8")  # noqa: SIM115 - lives for the run
    except OSError as exc:
        text = exc.strerror or str(exc)
        reason = f"open {path}: {text[:1].lower() + text[1:]}"
        raise JsRunnerError(reason if console else f"failed to open logfile {path}: {reason}") from None
