"""Live progress output: redrawn on a terminal, a plain block every second otherwise."""
from __future__ import annotations

import threading
import time
from typing import IO, Any


class ProgressPrinter:
    def __init__(self, runner: Any, executors: list[Any], out: IO[str]) -> None:
        self.runner = runner
        self.executors = executors
        self.out = out
        self.tty = hasattr(out, "isatty") and out.isatty()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._last_lines = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        if self.tty and self._last_lines:
            self.out.write("\x1b[%dA\x1b[J" % self._last_lines)
            self.out.flush()
            self._last_lines = 0

    def _loop(self) -> None:
        interval = 0.1 if self.tty else 1.0
        while not self._stop.wait(interval):
            self._print()

    def render(self) -> list[str]:
        from .progress_view import render_progress
        return render_progress(self.runner, self.executors)

    def _print(self) -> None:
        try:
            lines = self.render()
        except Exception:  # noqa: BLE001 - progress must never kill a run
            return
        text = "\n".join(lines) + "\n"
        if self.tty:
            if self._last_lines:
                text = "\x1b[%dA\x1b[J" % self._last_lines + text
            self._last_lines = len(lines)
        else:
            text = text + "\n"
        self.out.write(text)
        self.out.flush()

    def final(self) -> None:
        try:
            lines = self.render()
        except Exception:  # noqa: BLE001
            return
        self.out.write("\n\n" + "\n".join(lines) + "\n")
        self.out.flush()
