"""Host side of the runtime shim: console, warnings, ``sleep`` and ``open``."""

from __future__ import annotations

import base64
import json
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
    loader = vu.ctx.loader
    if getattr(loader, "first_init", None) is None:
        loader.first_init = vu  # the options pass: the first runtime of the run

    def log(level: str, msg: str | None) -> None:
        fields: dict[str, Any] = {}
        logger.log(level, msg, fields, console=True)

    def warn(msg: str, fields: dict[str, Any] | None) -> None:
        logger.log("warning", msg, fields or {})

    def sleep(seconds: float) -> None:
        vu.interrupt.wait(seconds)

    def open_file(path: str, mode: str, stack: str) -> list[str]:
        return read_for_open(vu, path, mode, stack)

    def times() -> bool:
        """Does the sample sink want the time of every sample? A sink that does not say
        (tests, tools) gets them; the run's hub wants them only for its ``--out`` writers.
        Asked by runtime.js for any sample (checks, groups too): a core function, since the
        metrics host module is installed only for scripts importing k6/metrics."""
        sink = vu.ctx.sample_sink
        wants = getattr(getattr(sink, "__self__", None), "wants_sample_times", None)
        return True if wants is None else bool(wants())

    engine.export("metrics.times", times)
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
    loader = vu.ctx.loader
    opened: set[str] | None = getattr(loader, "opened_files", None)
    first = getattr(loader, "first_init", vu) is vu
    if opened is not None and not first and path not in opened:
        # every init runs the same code; a file only later inits ask for (``if (__VU
        # === 1) open(…)``) would not be in the test's archive: k6 refuses it
        return ["err", "open() can't be used with files that weren't previously opened during "
                       f"initialization (__VU==0), path: {json.dumps(path)}"]
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        return ["err", f"stat {path}: no such file or directory"]
    except IsADirectoryError:
        return ["err", f"open() can't be used with directories, path: {json.dumps(path)}"]
    except OSError as exc:
        text = exc.strerror or str(exc)
        return ["err", f"open {path}: {text[:1].lower() + text[1:]}"]
    if opened is not None and first:
        opened.add(path)
    if mode == "b":
        return ["ok", base64.b64encode(data).decode("ascii")]
    return ["ok", data.decode("utf-8", errors="replace")]
