"""Child processes of a multi-process run (``jsrunner.child``): start methods, forked children."""

from __future__ import annotations

import json
import os
import queue
import sys
from pathlib import Path

import pytest

from jsrunner import child
from jsrunner.child import Child, start_method

from .helpers import write_script

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork start is Linux-only")


def test_start_method_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JSRUNNER_WORKER_START", raising=False)
    assert start_method() == ("fork" if sys.platform.startswith("linux") else "spawn")
    monkeypatch.setenv("JSRUNNER_WORKER_START", "spawn")
    assert start_method() == "spawn"
    monkeypatch.setenv("JSRUNNER_WORKER_START", " Fork ")
    assert start_method() == "fork"
    monkeypatch.setenv("JSRUNNER_WORKER_START", "bogus")
    assert start_method() == ("fork" if sys.platform.startswith("linux") else "spawn")


@linux_only
def test_forked_child_sees_eof_although_a_later_child_was_forked() -> None:
    """A forked child closes what it inherited: the pipe into the first child must not be
    held open by the second, or closing it would never end the first."""
    first = Child("a", None, mode="segment", method="fork")
    second = Child("b", None, mode="segment", method="fork")
    try:
        first.close_input()  # EOF before a job: the worker exits with code 3
        assert first.proc.wait(20) == 3
        assert second.alive()
        second.close_input()
        assert second.proc.wait(20) == 3
    finally:
        first.kill()
        second.kill()


@pytest.mark.parametrize("method", [pytest.param("fork", marks=linux_only), "spawn"])
def test_host_child_answers_the_options_pass(tmp_path: Path, method: str) -> None:
    """A host child (forked or spawned) reports the script's exports and options."""
    from jsrunner.worker import preload
    preload()
    script = write_script(tmp_path, "export const options = { vus: 3 };\nexport default function () {}\n")
    job = {"mode": "host", "script": str(script), "config": {"script": str(script), "include_system_env": False}}
    child = Child("host", job, method=method)
    try:
        while True:
            src, msg = child.inbox.get(timeout=60)
            assert msg is not None, "the child died"
            if msg.get("type") in ("init", "fatal"):
                break
        assert msg["type"] == "init", json.dumps(msg)
        assert msg["exports"] == ["default"] and msg["options"] == {"vus": 3}
        child.close_input()
        assert child.proc.wait(20) == 3
    except queue.Empty:
        raise AssertionError("no init message") from None
    finally:
        child.kill()



def _signal_masks(pid: int) -> tuple[int, int]:
    with open(f"/proc/{pid}/status") as fh:
        rows = dict(line.split(":", 1) for line in fh if ":" in line)
    return int(rows["SigIgn"], 16), int(rows["SigCgt"], 16)


@linux_only
def test_forked_child_gets_its_own_signal_dispositions() -> None:
    """SIGPIPE stays ignored (Python's default: a write to a closed socket must raise, not
    kill the worker), SIGINT is ignored (the coordinator forwards Ctrl-C as commands),
    SIGTERM is back to the default, and the child leads a session of its own."""
    import os
    import signal
    import time
    child = Child("probe", None, mode="segment", method="fork")
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # its name is set once its handlers are
            with open(f"/proc/{child.pid}/comm") as fh:
                if fh.read().strip() == "jsr-segment":
                    break
            time.sleep(0.01)
        ignored, caught = _signal_masks(child.pid)
        for sig in (signal.SIGPIPE, signal.SIGINT):
            assert ignored & (1 << (sig - 1)), sig
        term = 1 << (signal.SIGTERM - 1)
        assert not caught & term and not ignored & term
        assert os.getsid(child.pid) == child.pid
    finally:
        child.close_input()
        child.kill()


def test_default_workers_follows_the_cpu_affinity(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from jsrunner import coordinator
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 3, 5}, raising=False)
    assert coordinator.default_workers() == 3

    def unsupported(pid: int) -> set[int]:
        raise OSError("not here")
    monkeypatch.setattr(os, "sched_getaffinity", unsupported, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert coordinator.default_workers() == 1


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim, /proc")
def test_release_free_heap_hands_freed_heap_pages_back_before_a_fork() -> None:
    # ~48 MB of 3 KB blocks from malloc's heap (under its mmap threshold), then all but a
    # block at the top freed: the heap cannot shrink from the top, its pages stay resident
    blocks = [bytes(3000) + bytes([i % 256]) for i in range(16000)]
    pin = bytes(3000) + b"pin"
    blocks = blocks[:0]
    held = _rss_bytes()
    assert child.release_free_heap() is True
    assert held - _rss_bytes() > 16 << 20
    assert pin.endswith(b"pin")
