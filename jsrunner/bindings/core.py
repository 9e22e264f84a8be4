"""Host side of the runtime shim: console, warnings, ``sleep`` and ``open``."""

from __future__ import annotations

import base64
import os
import re
from typing import TYPE_CHECKING, Any

from ..loader import url_to_path

if TYPE_CHECKING:
    from ..vu import VU

_FRAME_FILE = re.compile(r"\((file://[^)]*?):\d+:\d+\)|at (file://[^\s)]*?):\d+:\d+")


def install(vu: "VU") -> None:
    engine = vu.engine
    assert engine is not None
    logger = vu.logger

    def log(level: str, msg: str | None) -> None:
        fields: dict[str, Any] = {}
        logger.log(level, msg, fields, console=True)

    def warn(msg: str, fields: dict[str, Any] | None) -> None:
        logger.log("warning", msg, fields or {})

    def sleep(seconds: float) -> None:
        vu.interrupt.wait(seconds)

    def open_file(path: str, mode: str, stack: str) -> list[str]:
        return read_for_open(vu, path, mode, stack)

    engine.export("log", log)
    engine.export("warn", warn)
    engine.export("sleep", sleep)
    engine.export("open", open_file)


def read_for_open(vu: "VU", path: str, mode: str, stack: str) -> list[str]:
    """``open()``: resolve relative to the module whose top-level code is running.

    That module is the outermost frame of the call stack (the top-level code being
    evaluated); k6 resolves against it, not against the file of the calling function.
    """
    if path.startswith("file://"):
        path = url_to_path(path)
    if not os.path.isabs(path):
        files = [m.group(1) or m.group(2) for m in _FRAME_FILE.finditer(stack or "")]
        base = files[-1] if files else vu.ctx.loader.main_id
        path = os.path.normpath(os.path.join(os.path.dirname(url_to_path(base)), path))
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return ["err", f"stat {path}: no such file or directory"]
    except IsADirectoryError:
        return ["err", f"read {path}: is a directory"]
    except OSError as exc:
        return ["err", f"open {path}: {exc.strerror or exc}"]
    if mode == "b":
        return ["ok", base64.b64encode(data).decode("ascii")]
    return ["ok", data.decode("utf-8", errors="replace")]
