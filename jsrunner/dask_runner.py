"""One test over the workers of a Dask cluster (``jsrunner run --dask ADDRESS|local[:N]``).

The client side is the multi-process coordinator (:mod:`jsrunner.coordinator`) with its
segment children replaced by Dask tasks:

- the options pass, ``setup()``, ``teardown()`` and ``handleSummary()`` run once, in the
  coordinator's local lifecycle child; thresholds, ``abortOnFail``, the progress line, the
  summary and the exit code are the coordinator's too;
- the test is split into one execution segment per Dask worker (at most the test's max VUs);
  each segment is a task pinned to its worker (``workers=[addr]``,
  ``allow_other_workers=False``) that calls :func:`jsrunner.segment_runner.run_segment`;
- the script and the local files it uses are shipped with the task (ModuleLoader's
  ``loaded_files`` of an import-graph walk, plus files passed to ``open()`` with a literal
  path) and recreated in a temporary folder on the worker, keeping their relative layout;
- every segment initialises its VUs, says ``ready`` and waits on a ``distributed.Event``
  (the barrier) that the client sets when all are ready; setup data travels with the task;
- messages of a segment (metric snapshot deltas, progress, log lines; never raw samples)
  are batched and put on a ``distributed.Queue`` about once a second (``ready``, ``abort``
  and ``done`` at once);
- stop and hard stop are two more Events the segments wait on; a lease ``Variable`` the
  client bumps every second lets a segment whose client vanished stop by itself.

Failures: a worker that leaves the cluster mid-test (or a task that errs) is reported, the
other segments are stopped and the run ends with exit code 255. Ctrl-C stops every segment
gracefully (a second one: hard stop, cancelled futures, exit 105). Futures are cancelled,
the Events cleared and a ``local`` cluster closed whatever the outcome.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from .coordinator import Coordinator
from .errors import CommandLineError, ExitCode, JsRunnerError
from .runner import RunConfig, Runner

DEFAULT_LOCAL_WORKERS = 2
#: s between two batches of a segment's messages on the queue ("about once a second")
FLUSH_INTERVAL = 1.0
#: s between two bumps of the client's lease
LEASE_INTERVAL = 1.0
#: a segment whose client has not bumped the lease for this long stops by itself
LEASE_TIMEOUT = 20.0
#: s between two polls of the message queue when it was empty
POLL_INTERVAL = 0.1
#: s between two looks at the cluster's workers (loss detection)
WATCH_INTERVAL = 0.5
#: the scheduler unreachable for this long: every segment is lost
SCHEDULER_GRACE = 10.0
#: messages sent without waiting for the next batch
_URGENT = frozenset(("hello", "ready", "abort", "done"))
#: a segment task that has not begun to run after this long fails the run (a busy worker)
START_TIMEOUT = 60.0


def _missing_dask() -> JsRunnerError:
    return JsRunnerError("--dask needs the Dask extra: pip install 'jsrunner[dask]'", exit_code=ExitCode.FATAL)


def parse_target(text: str) -> tuple[str | None, int]:
    """``local`` / ``local:N`` → (None, N); anything else is a scheduler address."""
    t = text.strip()
    if t == "local" or t.startswith("local:"):
        n_text = t[6:] if t != "local" else str(DEFAULT_LOCAL_WORKERS)
        if not n_text.isdigit() or int(n_text) < 1:
            raise CommandLineError(f"invalid argument \"{text}\" for \"--dask\" flag: local:N needs N >= 1")
        return None, int(n_text)
    if not t:
        raise CommandLineError("invalid argument \"\" for \"--dask\" flag: give a scheduler address or local[:N]")
    return t, 0


# ---- shipping the test -----------------------------------------------------------------------
_IMPORT = re.compile(
    r"""(?:^|[^\w$.])(?:import|export)\s*(?:[\w$*{}\s,]*?\bfrom\s*)?(['"])([^'"\n]+)\1"""
    r"""|(?:^|[^\w$.])(?:import|require)\s*\(\s*(['"])([^'"\n]+)\3\s*\)""")
_OPEN = re.compile(r"""(?:^|[^\w$.])open\s*\(\s*(['"`])([^'"`\n$]+)\1""")


def _strip_comments(src: str) -> str:
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    return re.sub(r"(?m)(^|[^:\\'\"])//.*$", r"\1", src)


def local_files(script: str, extra: Iterable[str] = ()) -> list[str]:
    """The local files a test needs: every module of its import graph (walked with the run's
    ModuleLoader, whose ``loaded_files`` records them) and the files passed to ``open()``
    with a literal path; ``extra`` (e.g. the config file) is added as is."""
    from .errors import ModuleNotFound
    from .loader import ModuleLoader, url_to_path
    loader = ModuleLoader(script, allow_remote=False)
    seen: set[str] = set()
    todo = [loader.main_id]
    opened: list[str] = []
    while todo:
        mid = todo.pop()
        if mid in seen:
            continue
        seen.add(mid)
        try:
            _, source = loader.load(mid)
        except ModuleNotFound:
            continue  # a remote module not in the cache, or a missing file: the run reports it
        if not mid.startswith("file://"):
            continue  # built-ins, bundled jslib; remote modules are fetched by the workers
        code = _strip_comments(source)
        for m in _IMPORT.finditer(code):
            spec = m.group(2) or m.group(4)
            try:
                child = loader.resolve(mid, spec)
            except Exception:  # noqa: BLE001 - the run reports bad specifiers itself
                continue
            if child.startswith("file://"):
                todo.append(child)
        base_dir = os.path.dirname(url_to_path(mid))
        for m in _OPEN.finditer(code):
            path = m.group(2)
            if path.startswith("file://"):
                path = url_to_path(path)
            if not os.path.isabs(path):
                path = os.path.normpath(os.path.join(base_dir, path))
            if os.path.isfile(path):
                opened.append(path)
    out: list[str] = []
    for p in [*loader.loaded_files, *opened, *extra]:
        p = os.path.abspath(p)
        if p not in out:
            out.append(p)
    return out


def make_bundle(script: str, files: list[str], config_file: str | None = None) -> dict[str, Any]:
    """The files' contents keyed by their path relative to their common folder."""
    from . import __version__
    script = os.path.abspath(script)
    paths = [script, *(f for f in files if f != script)]
    if config_file:
        config_file = os.path.abspath(config_file)
        if config_file not in paths:
            paths.append(config_file)
    root = os.path.commonpath([os.path.dirname(p) for p in paths])
    blobs: dict[str, str] = {}
    for p in paths:
        with open(p, "rb") as fh:
            blobs[os.path.relpath(p, root).replace(os.sep, "/")] = base64.b64encode(fh.read()).decode("ascii")
    return {"version": __version__, "files": blobs,
            "script": os.path.relpath(script, root).replace(os.sep, "/"),
            "config_file": os.path.relpath(config_file, root).replace(os.sep, "/") if config_file else None}


def materialize(bundle: dict[str, Any], dest: str) -> str:
    """Recreate a bundle's files under ``dest``; returns the script's path there."""
    dest = os.path.abspath(dest)
    for rel, blob in bundle["files"].items():
        path = os.path.normpath(os.path.join(dest, *rel.split("/")))
        if os.path.commonpath([dest, path]) != dest:
            raise JsRunnerError(f"refusing to write {rel!r} outside the test folder")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as fh:
            fh.write(base64.b64decode(blob))
    return os.path.join(dest, *bundle["script"].split("/"))


# ---- names of the run's coordination objects on the scheduler --------------------------------
def _names(run_id: str) -> dict[str, str]:
    p = f"jsrunner-{run_id}"
    return {"queue": f"{p}-messages", "start": f"{p}-start", "stop": f"{p}-stop",
            "hard": f"{p}-hard-stop", "lease": f"{p}-lease", "setup": f"{p}-setup"}


# ---- worker side -----------------------------------------------------------------------------
class _Sender:
    """Batches a segment's messages onto the run's Queue (one put per ``interval``)."""

    def __init__(self, q: Any, seg: int, interval: float) -> None:
        self.q = q
        self.seg = seg
        self.interval = interval
        self.buf: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.send_lock = threading.Lock()
        self.wake = threading.Event()
        self.closed = False
        self.done: dict[str, Any] | None = None
        self.thread = threading.Thread(target=self._loop, name="jsrunner-dask-sender", daemon=True)
        self.thread.start()

    def emit(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "update":
            msg["_t"] = time.time()  # for the client's lag figure
        elif kind == "done":
            self.done = msg
        with self.lock:
            self.buf.append(msg)
        if kind in _URGENT:
            self.wake.set()

    def _loop(self) -> None:
        while not self.closed:
            self.wake.wait(self.interval)
            self.wake.clear()
            self.flush()

    def flush(self) -> None:
        with self.send_lock:
            with self.lock:
                batch, self.buf = self.buf, []
            if not batch:
                return
            data = json.dumps({"seg": self.seg, "msgs": batch}, separators=(",", ":"), default=str)
            for attempt in range(3):
                try:
                    self.q.put(data, timeout=30)
                    return
                except Exception:  # noqa: BLE001 - the scheduler is gone or busy; the client will notice
                    time.sleep(0.2 * (attempt + 1))

    def close(self) -> None:
        self.closed = True
        self.wake.set()
        self.thread.join(5.0)
        self.flush()


class _Watcher:
    """Turns the run's Events (and the client's lease) into Control commands."""

    def __init__(self, control: Any, client: Any, names: dict[str, str], log: Callable[[str], None]) -> None:
        from distributed import Event, Variable
        self.control = control
        self.log = log
        self.closed = threading.Event()
        self.start_ev = Event(names["start"], client=client)
        self.stop_ev = Event(names["stop"], client=client)
        self.hard_ev = Event(names["hard"], client=client)
        self.lease = Variable(names["lease"], client=client)
        self.setup = Variable(names["setup"], client=client)
        self.threads = [
            threading.Thread(target=self._wait, args=(self.start_ev, self._start), daemon=True,
                             name="jsrunner-dask-start"),
            threading.Thread(target=self._wait, args=(self.stop_ev, control.request_stop), daemon=True,
                             name="jsrunner-dask-stop"),
            threading.Thread(target=self._wait, args=(self.hard_ev, control.request_hard_stop), daemon=True,
                             name="jsrunner-dask-hard-stop"),
            threading.Thread(target=self._lease, daemon=True, name="jsrunner-dask-lease"),
        ]
        for t in self.threads:
            t.start()

    def _wait(self, event: Any, action: Callable[[], None]) -> None:
        while not self.closed.is_set():
            try:
                if event.wait(0.5):
                    action()
                    return
            except Exception:  # noqa: BLE001 - scheduler hiccup: the lease decides
                self.closed.wait(0.5)

    def _start(self) -> None:
        """The barrier opened: setup()'s data was set just before (the start command's)."""
        try:
            given = self.setup.get(timeout=10)
        except Exception:  # noqa: BLE001 - the client sets it before the Event, so: no setup
            given = None
        if isinstance(given, dict) and given.get("given"):
            self.control.start(given.get("json"), with_setup=True)
        else:
            self.control.start()

    def _lease(self) -> None:
        last: Any = None
        changed = time.monotonic()
        while not self.closed.wait(LEASE_INTERVAL):
            try:
                value = self.lease.get(timeout=2)
            except Exception:  # noqa: BLE001 - unreachable counts as unchanged
                value = last
            now = time.monotonic()
            if value != last:
                last, changed = value, now
            elif now - changed > LEASE_TIMEOUT:
                self.log(f"the jsrunner client has been silent for {LEASE_TIMEOUT:.0f}s; stopping this segment")
                self.control.request_hard_stop()
                return

    def close(self) -> None:
        self.closed.set()


def run_dask_segment(bundle: dict[str, Any], config: dict[str, Any], seg: int, segment: str, sequence: str,
                     setup_json: str | None, run_id: str) -> dict[str, Any]:
    """The Dask task of one segment: recreate the files, run the segment, report on the Queue.
    Returns the segment's ``done`` message."""
    from distributed import Queue, get_client

    from . import __version__
    from .segment_runner import Control, run_segment
    client = get_client()
    names = _names(run_id)
    q = Queue(names["queue"], client=client)
    sender = _Sender(q, seg, FLUSH_INTERVAL)
    sender.emit({"type": "hello"})

    def log(text: str) -> None:
        from .log import Logger
        from .segment_runner import ForwardStream
        Logger(ForwardStream(sender.emit, "stderr")).error(text)

    control = Control()
    watcher: _Watcher | None = None
    tmp = tempfile.mkdtemp(prefix="jsrunner-dask-")
    try:
        if bundle.get("version") != __version__:
            raise JsRunnerError(f"this Dask worker has jsrunner {__version__}, the client {bundle.get('version')}")
        watcher = _Watcher(control, client, names, log)
        script = materialize(bundle, tmp)
        cfg = dict(config)
        if bundle.get("config_file"):
            cfg["config_file"] = os.path.join(tmp, *bundle["config_file"].split("/"))
        before = set(threading.enumerate())
        run_segment(script, cfg, segment, sequence, setup_json, sender.emit, control=control)
        stuck = _stuck_vu_threads(before)
        if stuck and sender.done is not None:
            log(f"{stuck} VU thread(s) of segment {segment} are stuck in JavaScript on {_worker_address()}")
            sender.done["stuck_vus"] = stuck
    except BaseException as exc:  # noqa: BLE001 - reported to the client, never raised into Dask
        message = exc.message if isinstance(exc, JsRunnerError) else f"{type(exc).__name__}: {exc}"
        log(f"segment {segment} failed on {_worker_address()}: {message}")
        if sender.done is None:
            sender.emit({"type": "done", "code": int(ExitCode.FATAL), "abort_code": None, "abort_message": None,
                         "marked_failed": False, "started": False})
    finally:
        if watcher is not None:
            watcher.close()
        sender.close()
        try:
            q.close()
        except Exception:  # noqa: BLE001
            pass
        shutil.rmtree(tmp, ignore_errors=True)
    return sender.done or {"type": "done", "code": int(ExitCode.FATAL)}


def _stuck_vu_threads(before: set[threading.Thread], grace: float = 2.0) -> int:
    """VU threads this segment started that are still running (a VU spinning in JS cannot
    be interrupted: only restarting the worker process ends it)."""
    deadline = time.monotonic() + grace
    while True:
        left = [t for t in threading.enumerate()
                if t not in before and t.name.startswith("vu-") and t.is_alive()]
        if not left or time.monotonic() >= deadline:
            return len(left)
        time.sleep(0.05)


def dask_setup(worker: Any) -> None:
    """Preload hook of ``--dask local`` workers: they share the terminal's process group, and
    Ctrl-C is the client's to handle (it stops the segments), so SIGINT is ignored here. Being
    preloaded also imports jsrunner before the first segment arrives."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # not the main thread: nothing to do
        pass


def _worker_address() -> str:
    try:
        from distributed import get_worker
        return str(get_worker().address)
    except Exception:  # noqa: BLE001
        return "?"


# ---- client side -----------------------------------------------------------------------------
class _ProcShim:
    """What the coordinator reads from ``Child.proc``."""

    def __init__(self, seg: "RemoteSegment") -> None:
        self.seg = seg

    @property
    def returncode(self) -> int | None:
        return self.seg.returncode

    def poll(self) -> int | None:
        return self.seg.returncode

    def wait(self, timeout: float | None = None) -> int:
        if not self.seg.finished.wait(timeout):
            raise subprocess.TimeoutExpired("dask segment", timeout or 0)
        return self.seg.returncode or 0


class RemoteSegment:
    """One segment running as a Dask task, with the coordinator's ``Child`` interface."""

    def __init__(self, coord: "DaskCoordinator", index: int, segment: str, address: str) -> None:
        self.coord = coord
        self.index = index
        self.name = f"worker-{index}"
        self.segment = segment
        self.address = address
        self.future: Any = None
        self.eof = False
        self.done: dict[str, Any] | None = None
        #: why the segment is gone without a result (None: it is not)
        self.lost: str | None = None
        self.finished = threading.Event()  # eof: done, lost or cancelled
        #: the task's ``done`` message arrived (set by the reader thread)
        self.reported = threading.Event()
        self.report: dict[str, Any] | None = None
        #: the task began to run on its worker (its first message arrived)
        self.hello = threading.Event()
        self.hello_by = time.monotonic() + START_TIMEOUT
        self.finished_at: float | None = None
        self.missing = 0
        self.gone = False  # its worker left the cluster
        self.proc = _ProcShim(self)

    @property
    def returncode(self) -> int | None:
        if self.done is not None:
            return int(self.done.get("code") or 0)
        return int(ExitCode.FATAL) if self.lost else None

    def send(self, msg: dict[str, Any]) -> None:
        self.coord.command(str(msg.get("cmd", "")), msg)

    def alive(self) -> bool:
        return not self.finished.is_set()

    def close_input(self) -> None:
        pass

    def kill(self) -> None:
        # the coordinator logged why ("did not stop in time"); the task is cancelled and the
        # worker restarted at the end if the segment never reported
        self.coord.lose(self, "", log=False)

    def __repr__(self) -> str:
        return f"<segment {self.segment} on {self.address}>"


class DaskCoordinator(Coordinator):
    """The coordinator with its segments as tasks on a Dask cluster."""

    spare_processes = False

    def __init__(self, cfg: RunConfig, target: str, max_segments: int | None = None) -> None:
        self.address, self.local_workers = parse_target(target)
        self.max_segments = max_segments
        super().__init__(cfg, None)
        self.run_id = uuid.uuid4().hex[:16]
        self.names = _names(self.run_id)
        self.client: Any = None
        self.cluster: Any = None
        self.worker_addrs: list[str] = []
        self.segments: list[RemoteSegment] = []
        #: s from a snapshot's creation on a worker to its merge here
        self.lags: list[float] = []
        self.timings: dict[str, float] = {}
        self._t0 = time.monotonic()
        self._connected = threading.Event()
        self._connect_error: BaseException | None = None
        self._commands: "queue.SimpleQueue[tuple[str, Any]]" = queue.SimpleQueue()
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._objects: dict[str, Any] = {}
        self._bundle: dict[str, Any] | None = None
        self._sent: set[str] = set()
        self._shut = False

    # ---- the cluster ---------------------------------------------------------------------
    @property
    def requested_workers(self) -> int | None:  # read by Coordinator._run: one segment per worker
        if not hasattr(self, "_connected"):
            return None
        self._wait_connected()
        n = len(self.worker_addrs)
        return min(n, self.max_segments) if self.max_segments else n

    @requested_workers.setter
    def requested_workers(self, value: int | None) -> None:
        pass  # Coordinator.__init__ assigns it; the cluster decides

    def _connect(self) -> None:
        try:
            try:
                import distributed
            except ImportError:
                raise _missing_dask() from None
            if not self.cfg.verbose:
                logging.getLogger("distributed").setLevel(logging.CRITICAL)
            if self.address is None:
                self.cluster = distributed.LocalCluster(
                    n_workers=self.local_workers, threads_per_worker=1, processes=True,
                    preload=["jsrunner.dask_runner"], dashboard_address=":0", scheduler_port=0,
                    silence_logs=logging.WARNING if self.cfg.verbose else logging.CRITICAL)
                self.client = distributed.Client(self.cluster, set_as_default=False)
                self.client.wait_for_workers(self.local_workers, timeout=60)
            else:
                try:
                    self.client = distributed.Client(self.address, timeout=10, set_as_default=False)
                except (OSError, TimeoutError) as exc:
                    raise JsRunnerError(f"cannot connect to the Dask scheduler at {self.address}: {exc}",
                                        exit_code=ExitCode.FATAL) from None
                try:
                    self.client.wait_for_workers(1, timeout=30)
                except TimeoutError:
                    raise JsRunnerError(f"the Dask scheduler at {self.address} has no workers",
                                        exit_code=ExitCode.FATAL) from None
            # nthreads(): asks the scheduler (scheduler_info() may answer from a cache)
            self.worker_addrs = sorted(self.client.nthreads())
            if not self.worker_addrs:
                raise JsRunnerError("the Dask cluster has no workers", exit_code=ExitCode.FATAL)
            self.timings["connected"] = time.monotonic() - self._t0
        except BaseException as exc:  # noqa: BLE001 - re-raised in the run's thread
            self._connect_error = exc
        finally:
            self._connected.set()

    def _wait_connected(self) -> None:
        self._connected.wait()
        if self._connect_error is not None:
            exc = self._connect_error
            if isinstance(exc, JsRunnerError):
                raise exc
            raise JsRunnerError(f"cannot start the Dask cluster: {type(exc).__name__}: {exc}",
                                exit_code=ExitCode.FATAL)

    # ---- entry ---------------------------------------------------------------------------
    def run(self):  # type: ignore[no-untyped-def]
        threading.Thread(target=self._connect, name="jsrunner-dask-connect", daemon=True).start()
        try:
            return super().run()
        finally:
            self._shutdown()
            if self.lags:
                lags = sorted(self.lags)
                self.logger.debug(f"dask: {len(lags)} snapshots, lag median {lags[len(lags) // 2] * 1000:.0f}ms, "
                                  f"max {lags[-1] * 1000:.0f}ms")

    # ---- segments as Dask tasks ----------------------------------------------------------
    def _prepare(self) -> None:
        """Once, before the first task: the bundle, the run's Queue/Events/Variables, threads."""
        from distributed import Event, Queue, Variable
        self._wait_connected()
        cfg = self.cfg
        self._bundle = make_bundle(cfg.script, local_files(cfg.script), cfg.config_file)
        client = self.client
        names = self.names
        self._objects = {"queue": Queue(names["queue"], client=client),
                         "lease": Variable(names["lease"], client=client),
                         "setup": Variable(names["setup"], client=client),
                         **{k: Event(names[k], client=client) for k in ("start", "stop", "hard")}}
        self._objects["lease"].set(0)
        for target, name in ((self._read_messages, "jsrunner-dask-reader"), (self._watch, "jsrunner-dask-watch")):
            th = threading.Thread(target=target, name=name, daemon=True)
            th.start()
            self._threads.append(th)

    def _new_segment(self, name: str, job: dict[str, Any]) -> RemoteSegment:  # type: ignore[override]
        if self._bundle is None:
            self._prepare()
        k = len(self.segments)
        addr = self.worker_addrs[k % len(self.worker_addrs)]
        seg = RemoteSegment(self, k + 1, str(job["segment"]), addr)
        seg.future = self.client.submit(
            run_dask_segment, self._bundle, job["config"], k + 1, str(job["segment"]), str(job["sequence"]),
            job.get("setup_json"), self.run_id, key=f"jsrunner-{self.run_id}-segment-{k + 1}", pure=False,
            workers=[addr], allow_other_workers=False, retries=0)
        self.segments.append(seg)
        return seg

    def _handle(self, src: Any, msg: dict[str, Any] | None, n: int) -> None:
        if isinstance(src, RemoteSegment):
            if msg is None:
                if src.eof:
                    return
                src.eof = True
                src.finished.set()
                if src.done is None:
                    if src.lost:
                        self.logger.error(src.lost)
                    self.worker_failed = True
                    self._abort(WORKER_LOST, None)
                    self._stop_workers()
                return
            kind = msg.get("type")
            if kind == "update" and "_t" in msg:
                self.lags.append(max(0.0, time.time() - float(msg.pop("_t"))))
            elif kind == "ready" and "started" not in self.timings:
                self.timings["first_ready"] = time.monotonic() - self._t0
        super()._handle(src, msg, n)

    # ---- threads: messages in, commands out, loss detection -----------------------------
    def _read_messages(self) -> None:
        by_index = {s.index: s for s in self.segments}
        q = self._objects["queue"]
        while not self._closing.is_set():
            # non-blocking polls: a get() that times out logs a traceback on the scheduler
            try:
                items = q.get(batch=True)
            except Exception:  # noqa: BLE001 - the watcher reports a lost scheduler
                items = []
            if not items:
                if self._closing.wait(POLL_INTERVAL):
                    return
                continue
            for item in items:
                try:
                    batch = json.loads(item)
                except (TypeError, ValueError):
                    continue
                seg = by_index.get(batch.get("seg"))
                if seg is None:
                    by_index = {s.index: s for s in self.segments}
                    seg = by_index.get(batch.get("seg"))
                    if seg is None:
                        continue
                seg.hello.set()
                for msg in batch.get("msgs", ()):
                    if msg.get("type") == "hello":
                        continue
                    self.inbox.put((seg, msg))  # type: ignore[arg-type]
                    if msg.get("type") == "done":
                        seg.report = msg
                        seg.reported.set()
                        self.inbox.put((seg, None))  # type: ignore[arg-type]

    def command(self, name: str, msg: dict[str, Any] | None = None) -> None:
        """start / stop / hard_stop every segment (the watcher thread talks to the scheduler)."""
        if name in ("start", "stop", "hard_stop"):
            if name == "start" and "started" not in self.timings:
                self.timings["started"] = time.monotonic() - self._t0
            self._commands.put((name, msg))

    def lose(self, seg: RemoteSegment, reason: str, log: bool = True) -> None:
        """The segment is gone without a result: cancel its task, end it for the coordinator."""
        if seg.lost is None and seg.done is None and not seg.eof:
            seg.lost = reason if log else ""
            self._commands.put(("cancel", seg))
            self.inbox.put((seg, None))  # type: ignore[arg-type]

    def _do(self, name: str, arg: Any) -> None:
        if name == "cancel":
            if arg.future is not None and not arg.future.done():
                arg.future.cancel()
            return
        if name in self._sent:
            return
        self._sent.add(name)
        if name == "start":
            msg = arg or {}
            self._objects["setup"].set({"given": "setup_json" in msg, "json": msg.get("setup_json")}, timeout=30)
        self._objects[{"start": "start", "stop": "stop", "hard_stop": "hard"}[name]].set()

    def _watch(self) -> None:
        next_lease = next_look = 0.0
        counter = 0
        unreachable_since: float | None = None
        while not self._closing.is_set():
            try:
                name, arg = self._commands.get(timeout=0.05)
            except queue.Empty:
                name = None
            now = time.monotonic()
            try:
                if name is not None:
                    self._do(name, arg)
                    continue
                if now >= next_lease:
                    counter += 1
                    self._objects["lease"].set(counter, timeout=5)
                    next_lease = now + LEASE_INTERVAL
                if now >= next_look:
                    next_look = now + WATCH_INTERVAL
                    self._check_segments(set(self.client.nthreads()))
                unreachable_since = None
            except Exception as exc:  # noqa: BLE001 - the scheduler is unreachable
                if unreachable_since is None:
                    unreachable_since = now
                elif now - unreachable_since > SCHEDULER_GRACE:
                    for seg in self.segments:
                        seg.gone = True
                        self.lose(seg, f"lost the Dask scheduler: {type(exc).__name__}: {exc}")
                    return
                self._closing.wait(0.5)

    def _check_segments(self, live: set[str]) -> None:
        now = time.monotonic()
        for seg in list(self.segments):
            if seg.eof or seg.lost is not None or seg.reported.is_set():
                continue
            fut = seg.future
            status = fut.status if fut is not None else "pending"
            if seg.address not in live:
                seg.missing += 1  # twice in a row: gone
                if seg.missing >= 2:
                    seg.gone = True
                    self.lose(seg, f"dask worker {seg.address} running segment {seg.segment} was lost")
                continue
            seg.missing = 0
            if status == "error":
                try:
                    exc = fut.exception(timeout=1)
                    text = f"{type(exc).__name__}: {exc}"
                except Exception as e:  # noqa: BLE001
                    text = str(e)
                self.lose(seg, f"segment {seg.segment} failed on dask worker {seg.address}: {text}")
            elif status == "cancelled":
                self.lose(seg, f"segment {seg.segment} on dask worker {seg.address} was cancelled")
            elif status == "finished":
                # its last batch normally comes in before the task ends; give the queue a moment
                if seg.finished_at is None:
                    seg.finished_at = now
                elif now - seg.finished_at > 5.0:
                    self.lose(seg, f"segment {seg.segment} on dask worker {seg.address} sent no result")
            elif not seg.hello.is_set() and now > seg.hello_by:
                self.lose(seg, f"segment {seg.segment} has not started on dask worker {seg.address} "
                               f"after {START_TIMEOUT:.0f}s (is the worker busy?)")

    # ---- stopping ------------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.signal_count >= 1:
            # the second signal: hard stop, cancel, close - bounded - then exit (Runner's)
            self._hard_sent = True
            if self.life is not None:
                try:
                    os.killpg(self.life.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError, OSError):
                    pass
            t = threading.Thread(target=self._shutdown, kwargs={"fast": True}, daemon=True)
            t.start()
            t.join(8.0)
        Runner._on_signal(self, signum, frame)

    def _shutdown(self, fast: bool = False) -> None:
        """Nothing of this run stays on the cluster: stop, cancel, restart workers whose VUs are
        stuck in JS, drop the run's Events/Variables/Queue, close the client (and a local cluster)."""
        if self._shut:
            return
        self._shut = True
        try:
            if self._connected.wait(0 if fast else 120) and self.client is not None and self.segments:
                self._release(fast)
        finally:
            self._closing.set()
            for th in self._threads:
                th.join(2.0)
            for obj in (self.client, self.cluster):
                if obj is not None:
                    try:
                        obj.close(timeout=5) if obj is self.client else obj.close()
                    except Exception:  # noqa: BLE001
                        pass

    def _release(self, fast: bool) -> None:
        client = self.client
        objs = self._objects
        # a segment that has not reported its end may still run on its worker
        pending = [s for s in self.segments if not s.reported.is_set() and not s.gone]
        if pending:
            for key in ("stop", "hard"):
                try:
                    objs[key].set()
                except Exception:  # noqa: BLE001
                    pass
            deadline = time.monotonic() + (1.0 if fast else 10.0)
            for seg in pending:
                seg.reported.wait(max(0.0, deadline - time.monotonic()))
        try:
            client.cancel([s.future for s in self.segments if s.future is not None])
        except Exception:  # noqa: BLE001
            pass
        self._closing.set()
        for th in self._threads:
            th.join(2.0)
        still = [s for s in pending if not s.reported.is_set()]
        stuck = {s.address for s in self.segments if (s.report or {}).get("stuck_vus")} | {s.address for s in still}
        if stuck and self.cluster is None:  # a local cluster is closed anyway
            try:
                stuck &= set(client.nthreads())  # a lost worker has nothing left to stop
            except Exception:  # noqa: BLE001
                pass
            if stuck:
                names = ", ".join(sorted(stuck))
                self.logger.warning(f"restarting Dask worker(s) {names}: a segment did not stop")
                try:
                    client.restart_workers(sorted(stuck), timeout=5 if fast else 30, raise_for_error=False)
                except Exception as exc:  # noqa: BLE001
                    self.logger.error(f"could not restart Dask worker(s) {names}: {exc}")
        if not still:  # a segment still running would miss cleared stop Events
            for key in ("start", "stop", "hard"):
                try:
                    objs[key].clear()
                except Exception:  # noqa: BLE001
                    pass
        for key, method in (("lease", "delete"), ("setup", "delete"), ("queue", "close")):
            try:
                if key in objs:
                    getattr(objs[key], method)()
            except Exception:  # noqa: BLE001
                pass


WORKER_LOST = ExitCode.FATAL


def run_on_dask(cfg: RunConfig, target: str, workers: int | None = None) -> int:
    """``jsrunner run --dask TARGET [--workers N]``: the exit code of the run. ``workers``
    caps the number of segments (default: one per Dask worker, at most the test's max VUs)."""
    parse_target(target)
    if workers is not None and workers < 1:
        raise CommandLineError(f"invalid argument \"{workers}\" for \"--workers\" flag: must be at least 1")
    if cfg.out:
        raise CommandLineError("--out cannot be combined with --dask: outputs need every raw sample, "
                               "and Dask workers send aggregated metrics only")
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise _missing_dask() from None
    return DaskCoordinator(cfg, target, max_segments=workers).run().exit_code


__all__ = ["DaskCoordinator", "RemoteSegment", "run_on_dask", "run_dask_segment", "dask_setup", "parse_target",
           "local_files", "make_bundle", "materialize", "FLUSH_INTERVAL"]
