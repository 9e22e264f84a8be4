"""A child process of a multi-process run, as the coordinator sees it.

Two ways to start one (both run :func:`jsrunner.worker.main`):

- ``fork`` (Linux, the default): a copy of the coordinator, which has imported everything a
  worker needs (:func:`jsrunner.worker.preload`). The child starts in ~2 ms instead of a
  Python start-up plus ~100-300 ms of imports (compiling them from source where bytecode is
  not cached), and its imported modules stay shared with the coordinator (copy-on-write:
  less RSS, much less PSS). The child drops everything it inherited but the modules: it
  closes the inherited file descriptors, gets fresh stdin/stdout/stderr objects (another
  thread may hold the old ones' locks), default signal handlers and its own session, and
  freezes the inherited objects out of the garbage collector (no cleanup of the
  coordinator's objects, no writes to the shared pages).
- ``spawn``: ``python -m jsrunner.worker`` (``JSRUNNER_WORKER_START=spawn``, or where fork
  is unsafe). This module imports only the standard library, so the command line can start
  such a child before it imports the runner.

Children run in their own sessions (a terminal's Ctrl-C reaches only the coordinator) and
are killed with their process group when the coordinator exits, whatever the reason.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import traceback
from typing import Any

Inbox = "queue.SimpleQueue[tuple[Child, dict[str, Any] | None]]"

_LIVE: set["Child"] = set()


def _kill_all_children() -> None:
    for child in list(_LIVE):
        child.kill()


atexit.register(_kill_all_children)


def start_method() -> str:
    """``fork`` or ``spawn`` (``JSRUNNER_WORKER_START`` overrides; fork only on Linux)."""
    method = os.environ.get("JSRUNNER_WORKER_START", "").strip().lower()
    if method in ("fork", "spawn"):
        return method if method == "spawn" or hasattr(os, "fork") else "spawn"
    return "fork" if sys.platform.startswith("linux") else "spawn"


_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}

_malloc_trim: list[Any] = []


def release_free_heap() -> bool:
    """Hand the free pages of this process's C heap back to the OS (glibc ``malloc_trim``).

    Called right before a fork: a forked child starts with every resident page of its
    parent mapped, free heap pages (what importing the runner freed again: ~1 MB) included,
    and run benchmarks add the resident sizes of all processes. ~2.4 MB less summed RSS for a
    coordinator and two workers; ~1 ms. False where there is no ``malloc_trim`` (not glibc).
    """
    if not _malloc_trim:
        import ctypes
        trim = None
        try:
            # the symbols the process has loaded (libc's among them); no library search
            trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
        except OSError:
            pass
        if trim is not None:
            trim.argtypes = [ctypes.c_size_t]
            trim.restype = ctypes.c_int
        _malloc_trim.append(trim)
    trim = _malloc_trim[0]
    if trim is None:
        return False
    trim(0)
    return True


class ForkedProcess:
    """The ``subprocess.Popen`` subset :class:`Child` uses, for a forked child."""

    def __init__(self, mode: str) -> None:
        child_in, self_out = os.pipe()   # job and commands
        self_in, child_out = os.pipe()   # messages
        # a Ctrl-C between the fork and the child's own handlers would run the coordinator's
        # handler in the child: the signals wait (blocked) until each side has its handlers
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        release_free_heap()
        try:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the child (covered by the worker tests)
                _forked_main(child_in, child_out, mode, mask)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(child_in)
        os.close(child_out)
        self.pid = pid
        self.args = ["<fork>", mode]
        self.stdin: Any = os.fdopen(self_out, "wb", buffering=0)
        self.stdout: Any = os.fdopen(self_in, "rb")
        self.returncode: int | None = None
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        with self._lock:
            if self.returncode is None:
                try:
                    pid, status = os.waitpid(self.pid, os.WNOHANG)
                except ChildProcessError:
                    pid, status = self.pid, 255 << 8  # reaped elsewhere: unknown
                if pid == self.pid:
                    self.returncode = os.waitstatus_to_exitcode(status)
            return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.001
        while self.poll() is None:
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
            time.sleep(delay)
            delay = min(delay * 2, 0.05)
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _forked_main(child_in: int, child_out: int, mode: str, mask: Any) -> None:  # pragma: no cover - child
    """The forked child: shed what it inherited, then run the worker; never returns."""
    code = 70
    try:
        os.setsid()
        gc.freeze()
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):  # SIGPIPE stays ignored, as in any Python
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the coordinator forwards Ctrl-C as commands
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.dup2(child_in, 0)
        os.dup2(child_out, 1)
        os.closerange(3, 1 << 20)  # other children's pipes: their EOF must not wait for us
        _LIVE.clear()
        sys.stdin = open(0, "r", encoding="utf-8", closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", buffering=1, closefd=False)
        sys.argv = [sys.argv[0], mode]
        try:  # what ps/top show for it (its command line is the coordinator's)
            with open("/proc/self/comm", "w") as fh:
                fh.write(f"jsr-{mode}"[:15])
        except OSError:
            pass
        from .worker import main
        code = main()
        sys.stderr.flush()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - report and leave: this is a child process
        try:
            os.write(2, traceback.format_exc().encode("utf-8", "replace"))
        except OSError:
            pass
    finally:
        os._exit(code)


class Child:
    """One child process: a JSON-lines job/command pipe in, a message pipe out.

    ``mode`` is what the process is for (``host``: the options pass, setup, teardown and
    handleSummary, and later a segment; ``segment``; ``lifecycle``); it only names the
    process (``ps``), the job decides what it does.
    """

    def __init__(self, name: str, job: dict[str, Any] | None, inbox: Any = None, mode: str | None = None,
                 method: str = "spawn") -> None:
        """``job`` None: start the process now (Python and jsrunner load meanwhile) and
        send the job later with :meth:`send`. ``inbox`` None: a queue of its own (adopt it
        with :attr:`inbox`). ``method``: ``spawn`` or ``fork`` (the caller has imported
        what the worker needs)."""
        self.name = name
        mode = mode or (str(job.get("mode")) if job else "segment")
        self.mode = mode
        self.method = method
        self.proc: Any
        if method == "fork":
            self.proc = ForkedProcess(mode)
        else:
            env = dict(os.environ)
            env.setdefault("PYTHONUNBUFFERED", "1")
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


__all__ = ["Child", "ForkedProcess", "exit_text", "start_method"]
