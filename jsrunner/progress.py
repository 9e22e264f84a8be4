"""Live progress output like k6's (runner.md §9).

- Not a terminal: a plain block (an empty line, then the lines) every second, the first one
  after 1 s, and once more at the very end, after the end-of-test summary.
- A terminal: the block is redrawn in place every 100 ms (each line ends with an
  erase-to-end-of-line code and the cursor goes back to the top of the block); bars fill
  the terminal width and are coloured unless ``--no-color``. Log lines and other output
  written meanwhile go through :class:`ConsoleWriter`, which erases what they overwrite
  and draws the block again below them (k6's "persistent text").
- ``-q``: nothing (the runner does not create a printer).
"""

from __future__ import annotations

import os
import threading
from typing import IO, Any

from .progress_format import DEFAULT_WIDTH, MIN_WIDTH

#: k6 leaves one column free at the right edge
TERM_PADDING = 1


def _is_tty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class ConsoleWriter:
    """A text stream wrapper (k6 consoleWriter): on a terminal every newline also erases the
    rest of the line, and after each write the progress block is drawn again."""

    def __init__(self, stream: IO[str], lock: threading.RLock, printer: "ProgressPrinter | None" = None) -> None:
        self.stream = stream
        self._lock = lock
        self._printer = printer
        self._tty = _is_tty(stream)

    def write(self, text: str) -> int:
        out = text.replace("\n", "\x1b[0K\n") if self._tty else text
        with self._lock:
            self.stream.write(out)
            if self._printer is not None:
                self._printer.persistent()
            self.stream.flush()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self.stream.flush()

    def isatty(self) -> bool:
        return self._tty

    def fileno(self) -> int:
        return self.stream.fileno()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def console_stream(stream: IO[str] | None) -> IO[str] | None:
    """Without a progress printer (``-q``): still erase to the end of each line on a terminal,
    like k6's console writer."""
    if stream is None or isinstance(stream, ConsoleWriter) or not _is_tty(stream):
        return stream
    return ConsoleWriter(stream, threading.RLock())  # type: ignore[return-value]


class ProgressPrinter:
    def __init__(self, runner: Any, *args: Any, no_color: bool = False) -> None:
        # ProgressPrinter(runner, out) or, as in the first version, (runner, executors, out)
        out: IO[str] = args[-1]
        self._given_executors: list[Any] | None = list(args[0]) if len(args) > 1 else None
        self.runner = runner
        self.out = out
        self.tty = _is_tty(out)
        self.color = self.tty and not no_color
        self.lock = threading.RLock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._last = ""  # the last rendered block (what "persistent" redraws)
        self._persistent = False
        self._width = DEFAULT_WIDTH  # bar width (k6 pb.width: clamped to 8..40)
        self._delta = 0  # k6 widthDelta: terminal width - longest line - padding

    # ---- wiring ------------------------------------------------------------------------
    def wrap(self, stream: IO[str] | None) -> IO[str] | None:
        """On a terminal: the stream others should write to while the block is shown."""
        if stream is None or not self.tty:
            return console_stream(stream)
        return ConsoleWriter(stream, self.lock, self)  # type: ignore[return-value]

    def start(self) -> None:
        self._persistent = self.tty
        self._thread.start()

    def stop(self) -> None:
        """No more periodic updates (the run is over; :meth:`final` prints the last one)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def final(self) -> None:
        """The last block, after the summary (on a terminal: drawn over the live one)."""
        self.stop()
        text = self._render(go_back=False)
        with self.lock:
            self._persistent = False
            if text:
                self.out.write(text)
                self.out.flush()

    # ---- drawing -----------------------------------------------------------------------
    def persistent(self) -> None:
        """Redraw the last block (called with ``self.lock`` held, after other output)."""
        if self._persistent and self._last:
            self.out.write(self._last)

    def _loop(self) -> None:
        interval = 0.1 if self.tty else 1.0
        while not self._stop.wait(interval):
            text = self._render(go_back=True)
            if not text:
                continue
            with self.lock:
                if self._stop.is_set():
                    return
                self.out.write(text)
                self.out.flush()

    def _term_width(self) -> int:
        try:
            return os.get_terminal_size(self.out.fileno()).columns or 80
        except (OSError, ValueError, AttributeError):
            return 80

    def _render(self, go_back: bool) -> str:
        from .progress_view import render_progress
        try:
            if not self.tty:
                lines = render_progress(self.runner, self._executors(), width=MIN_WIDTH, color=False)
                return "\n" + "".join(line + "\n" for line in lines)
            self._width = min(max(self._width + self._delta, MIN_WIDTH), DEFAULT_WIDTH)
            lines = render_progress(self.runner, self._executors(), width=self._width, color=self.color)
            plain = render_progress(self.runner, self._executors(), width=self._width, color=False) if self.color else lines
            longest = max((len(line) for line in plain), default=0)
            self._delta = self._term_width() - longest - TERM_PADDING
        except Exception:  # noqa: BLE001 - progress must never kill a run
            return ""
        end = "\x1b[K\n"
        text = end + "".join(line + end for line in lines)
        if go_back:
            text += f"\r\x1b[J\x1b[{len(lines) + 1}A"
        self._last = text
        return text

    def _executors(self) -> list[Any]:
        if self._given_executors is not None:
            return self._given_executors
        st = getattr(self.runner, "state", None)
        return list(st.executors) if st is not None else []

    # kept for callers of the first version
    def render(self) -> list[str]:
        from .progress_view import render_progress
        return render_progress(self.runner, self._executors())
