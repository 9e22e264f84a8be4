"""The only module that touches dukpy's private hooks.

dukpy 0.6.x (QuickJS-ng inside) offers a public ``evaljs`` and ``export_function``; ES
modules, the module loader and the state of the promise job queue are reachable only
through private names and, for the last two, through the QuickJS C API exported by the
``_dukpy`` extension. Everything version-specific lives here, pinned to dukpy 0.6.x, so an
upgrade has one place to check:

- ``_evaljs_module`` evaluates ES module source, resolving imports through
  ``_normalize_module(base, specifier)`` and ``loader.load(module_id)``.
- The context capsule points at ``struct {JSRuntime *rt; JSContext *ctx; void *rejection;
  unsigned long ids[3]; int drain_depth; int unusable}``; ``JS_IsJobPending(rt)`` (returns a
  C ``bool``) tells whether promise jobs are queued, and a non-NULL third field means dukpy
  has recorded an unhandled promise rejection that it would raise when the current eval
  returns. Those are read, never written. ``unusable`` is the one field written: dukpy sets
  it when a promise job fails uncatchably (our interrupt) while other jobs are queued, and
  then refuses every later eval; QuickJS itself is fine (the failed job was dequeued), so
  it is cleared after such an eval failed.
- ``JS_SetInterruptHandler(rt, cb, NULL)`` replaces dukpy's handler (which only runs
  ``PyErr_CheckSignals()``) with a ctypes callback, called by QuickJS every ~10,000
  operations of running JS. It does what dukpy's did (signal handlers run in the
  callback's Python code on the main thread; an exception they raise interrupts the eval
  and is re-raised by it) and asks ``set_interrupt_check``'s predicate whether to stop
  the JS: an iteration stuck in an endless loop is stopped this way. Running Python code
  there also lets the interpreter hand the GIL to other threads, which a JS loop never
  does otherwise (dukpy keeps the GIL while JS runs): without it one stuck VU froze every
  thread of the process, signal handling included.

Why read them at all: a VU's event loop runs inside one long eval and pulls events
through ``call_python``; to let every microtask chain finish before the next callback it
must know whether jobs are pending, and to end an iteration promptly on an unhandled
rejection it must see the rejection before the eval returns.
"""

from __future__ import annotations

import ctypes
import json
import os
from collections.abc import Callable
from typing import Any, Protocol

import dukpy
from dukpy import _dukpy

JSRuntimeError = _dukpy.JSRuntimeError

#: the dukpy line these hooks were written against (pinned in pyproject.toml); the
#: capsule layout is checked at runtime below instead of reading package metadata,
#: which would cost ~25 ms of start-up
DUKPY_SERIES = "0.6"

# PyDLL keeps the GIL across the call: releasing it for a 0.2 µs read would invite a
# thread switch (and the GIL hand-off latency) on every event-loop poll.
_lib = ctypes.PyDLL(_dukpy.__file__)
_lib.JS_IsJobPending.restype = ctypes.c_bool
_lib.JS_IsJobPending.argtypes = [ctypes.c_void_p]
#: int JSInterruptHandler(JSRuntime *rt, void *opaque)
_INTERRUPT_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_lib.JS_SetInterruptHandler.restype = None
_lib.JS_SetInterruptHandler.argtypes = [ctypes.c_void_p, _INTERRUPT_HANDLER, ctypes.c_void_p]
_lib.JS_SetGCThreshold.restype = None
_lib.JS_SetGCThreshold.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
#: heap size that triggers the first cycle collection of an eval (QuickJS then collects
#: whenever the heap reaches 1.5x what the last collection left live). dukpy sets 8 MiB
#: after every eval, but a VU's event loop is one eval lasting the whole test: garbage in
#: cycles (every WebSocket object and its handlers) piled up to 8 MiB in every VU before
#: its first collection, which looked like a leak of ~3 MB/min in a 20-VU chat soak and
#: would be 8 GiB at 1,000 VUs. Same CPU (bench/soak.py, bench/bench_samples.py).
#: ``JSRUNNER_GC_THRESHOLD`` (bytes) overrides it for experiments.
GC_THRESHOLD = int(os.environ.get("JSRUNNER_GC_THRESHOLD", 256 << 10))
#: offset of ``int drain_depth; int unusable`` in dukpy's context struct (3 pointers, 3 longs)
_FLAGS_OFFSET = 3 * ctypes.sizeof(ctypes.c_void_p) + 3 * ctypes.sizeof(ctypes.c_ulong)



class _JSValue(ctypes.Structure):
    """QuickJS's ``JSValue`` on 64-bit builds without NaN-boxing: a union and a tag."""

    _fields_ = [("u", ctypes.c_uint64), ("tag", ctypes.c_int64)]


_lib.JS_NewArrayBuffer.restype = _JSValue
_lib.JS_NewArrayBuffer.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                   ctypes.c_void_p, ctypes.c_bool]
_lib.JS_GetGlobalObject.restype = _JSValue
_lib.JS_GetGlobalObject.argtypes = [ctypes.c_void_p]
_lib.JS_SetPropertyStr.restype = ctypes.c_int
_lib.JS_SetPropertyStr.argtypes = [ctypes.c_void_p, _JSValue, ctypes.c_char_p, _JSValue]
_lib.JS_FreeValue.restype = None
_lib.JS_FreeValue.argtypes = [ctypes.c_void_p, _JSValue]
#: the globals ``Engine`` defines for runtime.js (which deletes them): see ``_expose_state``
STATE_GLOBALS = ("__jsrunner_jobs", "__jsrunner_rejection", "__jsrunner_flags")
_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_CAPSULE_NAME = b"DUKPY_CONTEXT_CAPSULE"


class ModuleSource(Protocol):
    """What the engine needs from a module loader."""

    def resolve(self, base: str, specifier: str) -> str: ...

    def load(self, module_id: str) -> tuple[str, str]: ...


class _Loader:
    """Adapter from dukpy's loader protocol to ours; remembers the first failure."""

    def __init__(self, source: ModuleSource) -> None:
        self.source = source
        self.error: BaseException | None = None

    def load(self, module_id: str) -> tuple[str | None, str | None, str | None]:
        try:
            ident, code = self.source.load(module_id)
        except BaseException as exc:  # noqa: BLE001 - reported after the eval fails
            if self.error is None:
                self.error = exc
            return None, None, None
        return ident, code, "module"


_loads = json.JSONDecoder().decode
_dumps = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


class _Interpreter(dukpy.JSInterpreter):
    """dukpy's interpreter with our loader and a leaner ``call_python`` path.

    The C extension calls ``_check_exported_function_exists(name)`` and then
    ``_call_python(name, json_args)`` with bytes for every host call; dukpy decodes the
    name and the arguments through the generic ``json`` entry points. Keying the table by
    bytes and using pre-built codecs takes a measurable share off every event-loop poll.
    """

    def __init__(self, loader: _Loader) -> None:
        self._bfuncs: dict[bytes, Callable[..., Any]] = {}
        super().__init__()
        self._loader = loader  # replaces dukpy's file-system loader

    def export_function(self, name: str, func: Callable[..., Any]) -> None:
        super().export_function(name, func)
        self._bfuncs[name.encode("utf-8")] = func

    def _check_exported_function_exists(self, func: bytes) -> bool:
        return func in self._bfuncs

    def _call_python(self, func: bytes, json_args: bytes) -> bytes | None:
        ret = self._bfuncs[func](*_loads(json_args.decode("utf-8")))
        if ret is not None:
            return _dumps(ret).encode("utf-8")
        return None

    def _normalize_module(self, base_name: str, module_name: str) -> str:
        try:
            return self._loader.source.resolve(base_name, module_name)
        except BaseException as exc:  # noqa: BLE001
            if self._loader.error is None:
                self._loader.error = exc
            return "\0unresolvable:" + module_name


class Engine:
    """One QuickJS runtime: evaluation, host functions and job-queue introspection."""

    def __init__(self, modules: ModuleSource) -> None:
        self._loader = _Loader(modules)
        self._interp = _Interpreter(self._loader)
        struct = (ctypes.c_void_p * 3).from_address(_capsule_pointer(self._interp._ctx, _CAPSULE_NAME))
        if not struct[0] or not struct[1]:
            raise ImportError(f"unexpected dukpy context layout: jsrunner needs dukpy {DUKPY_SERIES}.x")
        self._struct = struct
        self._rt = struct[0]
        flags = (ctypes.c_int * 2).from_address(ctypes.addressof(struct) + _FLAGS_OFFSET)
        if flags[0] != 0 or flags[1] != 0:
            raise ImportError(f"unexpected dukpy context layout: jsrunner needs dukpy {DUKPY_SERIES}.x")
        self._flags = flags
        self._check: Callable[[], bool] | None = None
        #: our interrupt handler stopped the JS (cleared by ``take_interrupted``)
        self.interrupted = False
        self._raised: BaseException | None = None
        self._handler = _INTERRUPT_HANDLER(self._on_interrupt_poll)  # referenced while rt lives
        _lib.JS_SetInterruptHandler(self._rt, self._handler, None)
        #: words JS reads without a host call: [0] the interrupt flag (``set_flag``),
        #: [2..3] the address of the runtime's job list head (0 when it is unknown)
        self.flags = (ctypes.c_uint32 * 4)()
        self._expose_state()

    # ---- state JS can read without a host call -----------------------------------------
    def _expose_state(self) -> None:
        """Define ArrayBuffers over the job queue head, the rejection slot and ``flags``.

        A VU asks "is the previous iteration really over?" between two iterations of a
        batch; through ``call_python`` that question cost ~3.7 µs, as much as the rest of an
        empty iteration. The answer lives in memory QuickJS and dukpy own (the job list
        head of the runtime, dukpy's pending-rejection pointer), so JS reads those words
        through ArrayBuffers that point at them (no copy, no free function: the memory
        outlives the context). ``flags`` adds what only Python knows (an interrupt).
        The job list's offset inside ``JSRuntime`` is found once per process by watching
        which empty list head changes while a job is queued; when that is not exactly one
        candidate the job-list buffer is not defined and JS asks Python instead.
        """
        offset = _job_list_offset(self)
        ctx = self._struct[1]
        views: list[tuple[str, int, int]] = [
            (STATE_GLOBALS[1], ctypes.addressof(self._struct) + 2 * ctypes.sizeof(ctypes.c_void_p),
             ctypes.sizeof(ctypes.c_void_p)),
            (STATE_GLOBALS[2], ctypes.addressof(self.flags), ctypes.sizeof(self.flags)),
        ]
        if offset is not None:
            head = self._rt + offset
            self.flags[2] = head & 0xFFFFFFFF
            self.flags[3] = head >> 32
            views.insert(0, (STATE_GLOBALS[0], head, 2 * ctypes.sizeof(ctypes.c_void_p)))
        glob = _lib.JS_GetGlobalObject(ctx)
        try:
            for name, address, size in views:
                buf = _lib.JS_NewArrayBuffer(ctx, address, size, None, None, False)
                _lib.JS_SetPropertyStr(ctx, glob, name.encode(), buf)  # takes ``buf``
        finally:
            _lib.JS_FreeValue(ctx, glob)

    def set_flag(self, value: bool) -> None:
        """Mirror the VU's interrupt for JS (any thread; a word write)."""
        self.flags[0] = 1 if value else 0

    # ---- interrupting running JS -------------------------------------------------------
    def set_interrupt_check(self, check: Callable[[], bool] | None) -> None:
        """``check()`` is asked every ~10,000 JS operations; True stops the running JS with
        an uncatchable ``InternalError: interrupted`` (the eval raises ``JSRuntimeError``)."""
        self._check = check

    def take_interrupted(self) -> bool:
        """True (once) if ``check`` stopped the JS since the last call."""
        fired, self.interrupted = self.interrupted, False
        return fired

    def _on_interrupt_poll(self, rt: Any, opaque: Any) -> int:
        try:
            check = self._check
            if check is not None and check():
                self.interrupted = True
                return 1
        except BaseException as exc:  # noqa: BLE001 - e.g. KeyboardInterrupt from a signal handler
            if self._raised is None:
                self._raised = exc
            return 1
        return 0

    def _after_failure(self) -> None:
        """An eval raised: re-raise what a signal handler raised, keep the context usable."""
        if self._flags[1] and not self._flags[0]:
            self._flags[1] = 0
        raised, self._raised = self._raised, None
        if raised is not None:
            raise raised

    def export(self, name: str, func: Callable[..., Any]) -> None:
        """Make ``func`` callable from JS as ``call_python(name, ...)`` (JSON in, JSON out)."""
        self._interp.export_function(name, func)

    def eval(self, code: str, **values: Any) -> Any:
        """Evaluate a global script; ``values`` appear as ``dukpy.<name>`` (JSON copies)."""
        _lib.JS_SetGCThreshold(self._rt, GC_THRESHOLD)  # dukpy resets it to 8 MiB after each eval
        try:
            return self._interp.evaljs(code, **values)
        except JSRuntimeError:
            self._after_failure()
            raise

    def eval_module(self, code: str, module_id: str) -> Any:
        """Evaluate ES module source as the module ``module_id`` (imports use the loader)."""
        self._loader.error = None
        _lib.JS_SetGCThreshold(self._rt, GC_THRESHOLD)
        try:
            return self._interp._evaljs_module(code, module_name=module_id)
        except JSRuntimeError:
            self._after_failure()
            raise

    def take_load_error(self) -> BaseException | None:
        """The first loader/resolver exception of the last module eval, if any."""
        err, self._loader.error = self._loader.error, None
        return err

    def jobs_pending(self) -> bool:
        return bool(_lib.JS_IsJobPending(self._rt))

    def rejection_pending(self) -> bool:
        return bool(self._struct[2])


_JOB_LIST_OFFSET: list[int | None] = []


def _job_list_offset(engine: Engine) -> int | None:
    """Byte offset of ``job_list`` (a ``struct list_head``) in QuickJS's ``JSRuntime``.

    Not part of QuickJS's API, so it is found rather than assumed: list heads that point
    at themselves (empty lists) while no job is queued, and of which exactly one stops
    doing so while a promise job is queued and ``JS_IsJobPending`` says so. Once per process.
    """
    if _JOB_LIST_OFFSET:
        return _JOB_LIST_OFFSET[0]
    rt = engine._rt
    words = 1024
    word = ctypes.sizeof(ctypes.c_void_p)

    def empty_heads() -> set[int]:
        mem = (ctypes.c_size_t * words).from_address(rt)
        return {i for i in range(words - 1) if mem[i] == rt + word * i and mem[i + 1] == rt + word * i}

    idle = empty_heads()
    seen: dict[str, Any] = {}

    def probe() -> None:
        seen["busy"] = idle - empty_heads()
        seen["pending"] = bool(_lib.JS_IsJobPending(rt))

    name = "__jsrunner_probe"
    engine._interp.export_function(name, probe)
    found: int | None = None
    try:
        engine._interp.evaljs(f"Promise.resolve().then(() => {{}}); call_python('{name}'); null")
        busy = seen.get("busy", set())
        if seen.get("pending") and len(busy) == 1 and empty_heads() == idle:
            found = word * next(iter(busy))
    except JSRuntimeError:
        found = None
    finally:
        engine._interp._bfuncs.pop(name.encode(), None)
        engine._interp._funcs.pop(name, None)
    _JOB_LIST_OFFSET.append(found)
    return found


def to_json(value: Any) -> str:
    """JSON text for embedding a Python value in JS source."""
    return json.dumps(value, separators=(",", ":"))
