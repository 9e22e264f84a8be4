"""A child process of a multi-process run, as the coordinator sees it.

Kept apart from :mod:`jsrunner.coordinator` and importing only the standard library, so the
command line can start the first child *before* it imports the (heavy) runner: the child's
Python start-up and imports then overlap with the coordinator's own.

Children run in their own sessions (a terminal's Ctrl-C reaches only the coordinator) and
are killed with their process group when the coordinator exits, whatever the reason.
"""

from __future__ import annotations

import atexit
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from typing import Any

Inbox = "queue.SimpleQueue[tuple[Child, dict[str, Any] | None]]"

_LIVE: set["Child"] = set()


def _kill_all_children() -> None:
    for child in list(_LIVE):
        child.kill()


atexit.register(_kill_all_children)


class Child:
    """One child process: a JSON-lines job/command pipe in, a message pipe out.

    ``mode`` is what the process is for (``host``: the options pass, setup, teardown and
    handleSummary, and later a segment; ``segment``; ``lifecycle``); it only names the
    process (``ps``), the job decides what it does.
    """

    def __init__(self, name: str, job: dict[str, Any] | None, inbox: Any = None, mode: str | None = None) -> None:
        """``job`` None: start the process now (Python and jsrunner load meanwhile) and
        send the job later with :meth:`send`. ``inbox`` None: a queue of its own (adopt it
        with :attr:`inbox`)."""
        self.name = name
        env = dict(os.environ)
        env.setdefault("PYTHONUNBUFFERED", "1")
        mode = mode or (str(job.get("mode")) if job else "segment")
        self.mode = mode
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jsrunner.worker", mode], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=None, start_new_session=True, env=env, bufsize=0)
        _LIVE.add(self)
        self.pid = self.proc.pid
        self.inbox: Any = inbox if inbox is not None else queue.SimpleQueue()
        self.done: dict[str, Any] | None = None
        self.eof = False
        #: the coordinator killed it on purpose (its exit is not a failure to report)
        self.killed = False
        self._wlock = threading.Lock()
        if job is not None:
            self.send(job)
        self.reader = threading.Thread(target=self._read, name=f"read-{name}", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        stream = self.proc.stdout
        buf = bytearray()  # (a huge log line arrives in many pipe-sized chunks: no bytes +=)
        while True:
            try:
                chunk = stream.read1(1 << 20) if hasattr(stream, "read1") else os.read(stream.fileno(), 1 << 20)
            except (OSError, ValueError):
                chunk = b""
            if not chunk:
                break
            buf += chunk
            if b"\n" not in chunk:
                continue
            *lines, rest = buf.split(b"\n")
            buf = bytearray(rest)
            for line in lines:
                if not line:
                    continue
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                self.inbox.put((self, msg))
        self.proc.wait()
        self.inbox.put((self, None))

    def send(self, msg: dict[str, Any]) -> None:
        data = (json.dumps(msg, separators=(",", ":")) + "\n").encode("utf-8")
        with self._wlock:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (OSError, ValueError, AssertionError):
                pass

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close_input(self) -> None:
        with self._wlock:
            try:
                if self.proc.stdin is not None:
                    self.proc.stdin.close()
            except OSError:
                pass

    def kill(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                try:
                    self.proc.kill()
                except OSError:
                    pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
        else:
            # the child is gone; anything left in its group goes too
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        _LIVE.discard(self)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode


def exit_text(code: int | None) -> str:
    """A child's exit code as the coordinator reports it (``-9 (SIGKILL)``)."""
    if code is not None and code < 0:
        try:
            return f"{code} ({signal.Signals(-code).name})"
        except ValueError:
            return str(code)
    return str(code)


__all__ = ["Child", "exit_text"]
