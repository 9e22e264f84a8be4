"""The only module that touches dukpy's private hooks.

dukpy 0.6.x (QuickJS-ng inside) offers a public ``evaljs`` and ``export_function``; ES
modules, the module loader and the state of the promise job queue are reachable only
through private names and, for the last two, through the QuickJS C API exported by the
``_dukpy`` extension. Everything version-specific lives here, pinned to dukpy 0.6.x, so an
upgrade has one place to check:

- ``_dukpy.eval_string(interp, code, json_values, as_module, name)`` evaluates a script or
  ES module source; ``interp`` is our own object (``_Interpreter``, not dukpy's
  ``JSInterpreter``): imports resolve through its ``_normalize_module(base, specifier)``
  and ``loader.load(module_id)``, host calls through ``_call_python``.
- Modules can be registered compiled: ``JS_Eval`` (compile only), ``JS_WriteObject`` and
  ``JS_ReadObject`` with QuickJS-ng's 16-byte ``JSValue`` (see ``Engine._prepare``).
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

import atexit
import ctypes
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import weakref
from types import ModuleType
from collections.abc import Callable
from typing import Any, Protocol



def _load_extension() -> ModuleType:
    """dukpy's C extension, without the ``dukpy`` package around it.

    ``import dukpy`` also imports its asset-pipeline helpers (``dukpy.install``:
    ``urllib.request``, ``http.client``, ``email``, ``ssl``): ~9 MB of RSS and ~25 ms in
    every process (each ``--workers`` child too) for features jsrunner never uses. The
    extension is registered under its own name, so a later ``import dukpy`` shares it.
    """
    name = "dukpy._dukpy"
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.find_spec("dukpy")  # locates the package without running it
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "_dukpy" + suffix)
            if os.path.exists(path):
                loader = importlib.machinery.ExtensionFileLoader(name, path)
                ext_spec = importlib.util.spec_from_file_location(name, path, loader=loader)
                assert ext_spec is not None
                module = importlib.util.module_from_spec(ext_spec)
                loader.exec_module(module)
                sys.modules[name] = module
                return module
    return importlib.import_module(name)  # an unusual layout: the ordinary import


_dukpy = _load_extension()

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
    """QuickJS-ng's ``JSValue`` on 64-bit hosts: a 64-bit payload and a 64-bit tag (no NaN
    boxing), passed and returned by value in two registers."""

    _fields_ = [("u", ctypes.c_uint64), ("tag", ctypes.c_int64)]


_JS_TAG_BOOL = 1
_JS_TAG_MODULE = -3
_JS_TAG_EXCEPTION = 6
_JS_EVAL_MODULE_COMPILE_ONLY = 1 | (1 << 5)  # JS_EVAL_TYPE_MODULE | JS_EVAL_FLAG_COMPILE_ONLY
_JS_OBJ_BYTECODE = 1  # JS_WRITE_OBJ_BYTECODE / JS_READ_OBJ_BYTECODE (debug info kept)
_JS_WRITE_STRIP_SOURCE = 1 << 4  # JS_WRITE_OBJ_STRIP_SOURCE
_JS_PROP_C_W_E = 7
_lib.JS_Eval.restype = _JSValue
_lib.JS_Eval.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_int]
_lib.JS_ReadObject.restype = _JSValue
_lib.JS_ReadObject.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int]
_lib.JS_WriteObject.restype = ctypes.c_void_p
_lib.JS_WriteObject.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t), _JSValue, ctypes.c_int]
_lib.JS_FreeValue.restype = None
_lib.JS_FreeValue.argtypes = [ctypes.c_void_p, _JSValue]
_lib.JS_GetException.restype = _JSValue
_lib.JS_GetException.argtypes = [ctypes.c_void_p]
_lib.JS_GetImportMeta.restype = _JSValue
_lib.JS_GetImportMeta.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
_lib.JS_NewStringLen.restype = _JSValue
_lib.JS_NewStringLen.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
_lib.JS_DefinePropertyValueStr.restype = ctypes.c_int
_lib.JS_DefinePropertyValueStr.argtypes = [ctypes.c_void_p, _JSValue, ctypes.c_char_p, _JSValue, ctypes.c_int]
_lib.JS_UpdateStackTop.restype = None
_lib.JS_UpdateStackTop.argtypes = [ctypes.c_void_p]
_lib.js_free.restype = None
_lib.js_free.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
_JS_FALSE = _JSValue(0, _JS_TAG_BOOL)

#: (module id, source, strip) -> QuickJS bytecode of that module (None: it does not compile; dukpy's
#: own loader then compiles it again and reports the SyntaxError as usual). Bytecode is
#: position-independent across runtimes of one QuickJS build, so every VU of the process
#: reads it instead of parsing the source again.
_BYTECODE: dict[tuple[str, str, bool], bytes | None] = {}
#: bounds of that cache (entries, bytes of bytecode): a long-lived process running many
#: scripts (the tests, the Python API) starts it afresh when either is reached
_BYTECODE_LIMIT = 512
_BYTECODE_BYTES_LIMIT = 64 << 20
_bytecode_bytes = 0
_lib.JS_NewArrayBuffer.restype = _JSValue
_lib.JS_NewArrayBuffer.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p,
                                   ctypes.c_void_p, ctypes.c_bool]
_lib.JS_GetGlobalObject.restype = _JSValue
_lib.JS_GetGlobalObject.argtypes = [ctypes.c_void_p]
_lib.JS_SetPropertyStr.restype = ctypes.c_int
_lib.JS_SetPropertyStr.argtypes = [ctypes.c_void_p, _JSValue, ctypes.c_char_p, _JSValue]
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
        #: told the id of every module about to be registered (see Engine.on_load)
        self.on_load: Callable[[str], None] | None = None
        #: called with each import's module id once resolved (Engine._prepare)
        self.prepare: Callable[[str], None] | None = None
        #: modules whose loading failed in ``prepare``: the loader's next call reports that
        #: failure instead of trying again (a remote module would be downloaded twice)
        self.failed: dict[str, BaseException] = {}

    def load(self, module_id: str) -> tuple[str | None, str | None, str | None]:
        failure = self.failed.pop(module_id, None)
        if failure is not None:
            if self.error is None:
                self.error = failure
            return None, None, None
        try:
            ident, code = self.source.load(module_id)
            if self.on_load is not None:
                self.on_load(ident)
        except BaseException as exc:  # noqa: BLE001 - reported after the eval fails
            if self.error is None:
                self.error = exc
            return None, None, None
        return ident, code, "module"


def _not_json(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


# Host calls cross as JSON both ways on every poll and send, so the codecs are built once:
# ``JSONEncoder.encode`` makes a new C encoder per call, and ``JSONDecoder.decode`` checks
# for surrounding whitespace that JS's JSON.stringify never writes (~1 µs a call together).
_scan = json.JSONDecoder().scan_once
_encode = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
    None, _not_json, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)


def _loads(text: str) -> Any:
    """Parse JSON text written by JS's JSON.stringify (one value, no padding)."""
    return _scan(text, 0)[0]


def _dumps(value: Any) -> str:
    """Compact JSON, as ``json.dumps(value, separators=(",", ":"))`` writes it."""
    return "".join(_encode(value, 0))


#: host function name -> its UTF-8 key, shared by every VU's table (~30 names a VU)
_NAMES: dict[str, bytes] = {}


class _Interpreter:
    """What ``_dukpy.eval_string`` needs of its interpreter object, leaner than dukpy's.

    The C extension reads ``_ctx`` (the context capsule), resolves imports through
    ``_normalize_module(base, specifier)`` and ``loader.load(module_id)``, and calls
    ``_check_exported_function_exists(name)`` and then ``_call_python(name, json_args)``
    with bytes for every host call. dukpy's own ``JSInterpreter`` decodes names and
    arguments through the generic ``json`` entry points, and evaluates three JS shims in
    every new interpreter: ``process.env`` (a copy of the whole environment, which k6
    scripts do not have), a console (runtime.js defines k6's) and a CommonJS ``require``
    over dukpy's file loader (it could not find any k6 module: runtime.js defines the same
    failing ``require``) — three evals with two full GCs each, ~0.35 ms of every VU's
    start-up. Keying the table by bytes and using pre-built codecs takes a measurable
    share off every event-loop poll.
    """

    def __init__(self, loader: _Loader) -> None:
        self._bfuncs: dict[bytes, Callable[..., Any]] = {}
        self._ctx = _dukpy.create_context()
        self.loader = loader

    def export_function(self, name: str, func: Callable[..., Any]) -> None:
        key = _NAMES.get(name)
        if key is None:
            key = _NAMES.setdefault(name, name.encode("utf-8"))
        self._bfuncs[key] = func

    def evaljs(self, code: str, **values: Any) -> Any:
        return self._eval(code, False, "<dukpy>", values)

    def _evaljs_module(self, code: str, module_name: str = "<dukpy>", **values: Any) -> Any:
        return self._eval(code, True, module_name, values)

    def _eval(self, code: str, as_module: bool, name: str, values: dict[str, Any]) -> Any:
        # the same JSON text dukpy's evaljs makes of the values (``json.dumps`` defaults)
        res = _dukpy.eval_string(self, code.encode("utf-8"), json.dumps(values).encode("utf-8"), as_module, name)
        return None if res is None else _loads(res.decode("utf-8"))

    def _check_exported_function_exists(self, func: bytes) -> bool:
        return func in self._bfuncs

    def _call_python(self, func: bytes, json_args: bytes) -> bytes | None:
        ret = self._bfuncs[func](*_loads(json_args.decode("utf-8")))
        if ret is not None:
            return _dumps(ret).encode("utf-8")
        return None

    def _normalize_module(self, base_name: str, module_name: str) -> str:
        loader = self.loader
        try:
            module_id = loader.source.resolve(base_name, module_name)
        except BaseException as exc:  # noqa: BLE001
            if loader.error is None:
                loader.error = exc
            return "\0unresolvable:" + module_name
        if loader.prepare is not None:
            try:
                loader.prepare(module_id)
            except Exception:  # noqa: BLE001 - the ordinary loader then compiles it
                pass
        return module_id


#: every Engine alive (see _leave_runtimes_to_the_os)
_LIVE: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def _leave_runtimes_to_the_os() -> None:
    """At interpreter exit, keep the QuickJS runtimes still alive from being freed.

    Python would free each one, object by object, while it shuts down: ~0.2 ms of CPU a
    VU (1,000 VUs: 0.2 s) for memory the OS takes back at once. Runs before that
    teardown (atexit); a runtime's capsule gets one reference nobody releases.
    """
    for engine in list(_LIVE):
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(engine._interp._ctx))


atexit.register(_leave_runtimes_to_the_os)


class _EngineRef(weakref.ref):  # type: ignore[type-arg]
    """A weak reference to an engine that knows its runtime's address (for ``_forget``)."""

    __slots__ = ("rt",)

    def __new__(cls, engine: "Engine", rt: int) -> "_EngineRef":
        ref = super().__new__(cls, engine, _forget)
        ref.rt = rt
        return ref

    def __init__(self, engine: "Engine", rt: int) -> None:
        super().__init__(engine, _forget)


#: runtime address -> its engine, for the one interrupt handler every runtime shares (a
#: ctypes callback per engine cost ~0.8 KB a VU)
_ENGINES: dict[int, _EngineRef] = {}


def _forget(ref: _EngineRef) -> None:
    """An engine is gone: drop its entry, unless a newer runtime took the address over."""
    if _ENGINES.get(ref.rt) is ref:
        del _ENGINES[ref.rt]


def _on_interrupt(rt: int | None, opaque: Any) -> int:
    """QuickJS's interrupt handler of every runtime: the runtime's engine decides."""
    ref = _ENGINES.get(rt or 0)
    engine = ref() if ref is not None else None
    return 0 if engine is None else engine._on_interrupt_poll()


#: referenced for as long as this module lives (runtimes left to the OS at exit included)
_ON_INTERRUPT = _INTERRUPT_HANDLER(_on_interrupt)


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
        self._ctx = struct[1]
        #: module ids registered compiled in this runtime (``_prepare``)
        self._preloaded: set[str] = set()
        self._loader.prepare = self._prepare
        flags = (ctypes.c_int * 2).from_address(ctypes.addressof(struct) + _FLAGS_OFFSET)
        if flags[0] != 0 or flags[1] != 0:
            raise ImportError(f"unexpected dukpy context layout: jsrunner needs dukpy {DUKPY_SERIES}.x")
        self._flags = flags
        self._check: Callable[[], bool] | None = None
        #: our interrupt handler stopped the JS (cleared by ``take_interrupted``)
        self.interrupted = False
        self._raised: BaseException | None = None
        _ENGINES[self._rt] = _EngineRef(self, self._rt)
        _lib.JS_SetInterruptHandler(self._rt, _ON_INTERRUPT, None)
        _LIVE.add(self)
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

    def _on_interrupt_poll(self) -> int:
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

    def on_load(self, hook: Callable[[str], None] | None) -> None:
        """Call ``hook(module_id)`` whenever an import registers a module in this runtime."""
        self._loader.on_load = hook

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

    def eval_module(self, code: str, module_id: str, **values: Any) -> Any:
        """Evaluate ES module source as the module ``module_id`` (imports use the loader);
        ``values`` appear as ``dukpy.<name>`` while its modules evaluate."""
        self._loader.error = None
        _lib.JS_SetGCThreshold(self._rt, GC_THRESHOLD)
        try:
            return self._interp._evaljs_module(code, module_name=module_id, **values)
        except JSRuntimeError:
            self._after_failure()
            raise

    # ---- compiled modules ------------------------------------------------------------------
    def _prepare(self, module_id: str) -> None:
        """An import resolved to ``module_id``: register the module compiled, if it is not.

        Called while QuickJS links the importing module, right before it looks the name up
        among the loaded modules and asks dukpy's loader (which parses the source) only if
        it is not there. Each module is parsed once per process: its bytecode is kept and
        read into later runtimes (~10x cheaper than parsing). A module that does not
        compile is left to dukpy's loader, which reports its SyntaxError as before.
        jsrunner's own modules (``is_bundled``: the runtime, the k6 shims) are stripped of
        their functions' source text (kept per function, nested ones included: ~35 KB of
        every VU for runtime.js alone), so ``String(fn)`` shows ``[native code]`` — in every
        VU alike; stack traces keep lines and columns.
        """
        loader = self._loader
        if module_id in self._preloaded or not _bytecode_works():
            return
        source = loader.source
        try:
            _, text = source.load(module_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the loader's next call
            loader.failed[module_id] = exc
            return
        is_bundled = getattr(source, "is_bundled", None)
        strip = bool(is_bundled(module_id)) if is_bundled is not None else False
        if self._register(module_id, text, strip) and loader.on_load is not None:
            loader.on_load(module_id)

    def _register(self, module_id: str, source: str, strip: bool) -> bool:
        """Read the module's bytecode (compiled once per process) into this runtime."""
        key = (module_id, source, strip)
        code = _BYTECODE.get(key, b"")
        if code == b"":
            code = _Compiler().compile(module_id, source, strip)
            _remember(key, code)
        if code is None:
            return False
        ctx = self._ctx
        value = _lib.JS_ReadObject(ctx, code, len(code), _JS_OBJ_BYTECODE)
        if value.tag != _JS_TAG_MODULE:
            self._drop_value(value)
            return False
        self._preloaded.add(module_id)
        self._set_import_meta(value, module_id)
        _lib.JS_FreeValue(ctx, value)  # the runtime's module list keeps the module
        return True

    def _set_import_meta(self, module: _JSValue, module_id: str) -> None:
        """``import.meta.url`` and ``.main`` as dukpy's loader sets them for imported modules."""
        ctx = self._ctx
        meta = _lib.JS_GetImportMeta(ctx, module.u)
        if meta.tag == _JS_TAG_EXCEPTION:
            _lib.JS_FreeValue(ctx, _lib.JS_GetException(ctx))
            return
        url = module_id.encode("utf-8")
        _lib.JS_DefinePropertyValueStr(ctx, meta, b"url", _lib.JS_NewStringLen(ctx, url, len(url)), _JS_PROP_C_W_E)
        _lib.JS_DefinePropertyValueStr(ctx, meta, b"main", _JS_FALSE, _JS_PROP_C_W_E)
        _lib.JS_FreeValue(ctx, meta)

    def _drop_value(self, value: _JSValue) -> None:
        if value.tag == _JS_TAG_EXCEPTION:
            _lib.JS_FreeValue(self._ctx, _lib.JS_GetException(self._ctx))
        else:
            _lib.JS_FreeValue(self._ctx, value)

    def take_load_error(self) -> BaseException | None:
        """The first loader/resolver exception of the last module eval, if any."""
        err, self._loader.error = self._loader.error, None
        return err

    def jobs_pending(self) -> bool:
        return bool(_lib.JS_IsJobPending(self._rt))

    def rejection_pending(self) -> bool:
        return bool(self._struct[2])


def _remember(key: tuple[str, str, bool], code: bytes | None) -> None:
    global _bytecode_bytes
    size = len(code) if code else 0
    if len(_BYTECODE) >= _BYTECODE_LIMIT or _bytecode_bytes + size > _BYTECODE_BYTES_LIMIT:
        _BYTECODE.clear()
        _bytecode_bytes = 0
    _BYTECODE[key] = code
    _bytecode_bytes += size


class _Compiler:
    """A scratch QuickJS runtime that turns module source into bytecode.

    Compiling registers the module in the runtime that compiled it, so it is done here
    rather than in a VU's runtime (whose module would then shadow the one read back).
    """

    def __init__(self) -> None:
        self._capsule = _dukpy.create_context()  # freed with this object
        struct = (ctypes.c_void_p * 2).from_address(_capsule_pointer(self._capsule, _CAPSULE_NAME))
        self._rt, self._ctx = struct[0], struct[1]

    def compile(self, module_id: str, source: str, strip: bool) -> bytes | None:
        """Bytecode of the module, or None when it does not compile."""
        ctx = self._ctx
        _lib.JS_UpdateStackTop(self._rt)
        try:
            text = source.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: dukpy's loader reports them
            return None
        value = _lib.JS_Eval(ctx, text, len(text), module_id.encode("utf-8"), _JS_EVAL_MODULE_COMPILE_ONLY)
        if value.tag == _JS_TAG_EXCEPTION:
            _lib.JS_FreeValue(ctx, _lib.JS_GetException(ctx))
            return None
        size = ctypes.c_size_t(0)
        flags = _JS_OBJ_BYTECODE | (_JS_WRITE_STRIP_SOURCE if strip else 0)
        buf = _lib.JS_WriteObject(ctx, ctypes.byref(size), value, flags)
        _lib.JS_FreeValue(ctx, value)
        if not buf:
            _lib.JS_FreeValue(ctx, _lib.JS_GetException(ctx))
            return None
        code = ctypes.string_at(buf, size.value)
        _lib.js_free(ctx, buf)
        return code


_bytecode_check: list[bool] = []


def _bytecode_works() -> bool:
    """Whether this QuickJS build round-trips a module through bytecode as ``_prepare``
    expects (64-bit ``JSValue`` layout, tags): checked once; if not, modules are parsed."""
    if not _bytecode_check:
        ok = ctypes.sizeof(ctypes.c_void_p) == 8
        if ok:
            try:
                compiler = _Compiler()
                code = compiler.compile("jsrunner:check", "export const x = 1;", True)
                ok = False
                if code:
                    value = _lib.JS_ReadObject(compiler._ctx, code, len(code), _JS_OBJ_BYTECODE)
                    ok = value.tag == _JS_TAG_MODULE
                    if value.tag == _JS_TAG_EXCEPTION:
                        value = _lib.JS_GetException(compiler._ctx)
                    _lib.JS_FreeValue(compiler._ctx, value)
            except Exception:  # noqa: BLE001 - any surprise: parse as before
                ok = False
        _bytecode_check.append(ok)
    return _bytecode_check[0]


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

    seen: dict[str, Any] = {}

    def probe(when: str) -> None:
        seen[when] = (empty_heads(), bool(_lib.JS_IsJobPending(rt)))

    name = "__jsrunner_probe"
    engine._interp.export_function(name, probe)
    found: int | None = None
    try:
        # snapshots inside one eval: before a job is queued, while it is, and inside it
        # (the queue empty again); the first eval of a runtime also creates other lists
        engine._interp.evaljs(f"call_python('{name}', 'idle'); Promise.resolve().then(() => "
                              f"call_python('{name}', 'after')); call_python('{name}', 'queued'); null")
        (idle, p0), (queued, p1), (after, p2) = seen["idle"], seen["queued"], seen["after"]
        busy = idle - queued
        if not p0 and p1 and not p2 and len(busy) == 1 and busy <= after:
            found = word * next(iter(busy))
    except (JSRuntimeError, KeyError, ValueError):
        found = None
    finally:
        engine._interp._bfuncs.pop(name.encode(), None)
    _JOB_LIST_OFFSET.append(found)
    return found


def to_json(value: Any) -> str:
    """JSON text for embedding a Python value in JS source."""
    return json.dumps(value, separators=(",", ":"))
