"""The engine: modules registered as bytecode, and the interpreter set-up it trims."""

from __future__ import annotations

import subprocess
import sys

import pytest

from jsrunner import engine as engine_mod
from jsrunner.engine import Engine, JSRuntimeError


class _Modules:
    """A module source over a dict; ``bundled`` ids are jsrunner's own (stripped)."""

    def __init__(self, modules: dict[str, str], bundled: tuple[str, ...] = ()) -> None:
        self.modules = modules
        self.bundled = bundled
        self.loads: list[str] = []

    def resolve(self, base: str, spec: str) -> str:
        return spec

    def load(self, module_id: str) -> tuple[str, str]:
        self.loads.append(module_id)
        return module_id, self.modules[module_id]

    def is_bundled(self, module_id: str) -> bool:
        return module_id in self.bundled


LIB = "export const a = 40;\n\nexport function f() {\n  throw new Error('boom');\n}\n"
ENTRY = ("import * as m from 'm:lib'; globalThis.out = [m.a + 2, import.meta.url];"
         " try { m.f(); } catch (e) { globalThis.out.push(e.stack.split('\\n')[0].trim()); }"
         " globalThis.out.push(String(m.f).includes('boom'));")


def _run(modules: _Modules, *, bytecode: bool = True) -> tuple[Engine, list]:
    eng = Engine(modules)
    if not bytecode:
        eng._loader.prepare = None  # dukpy's loader parses every module (as before)
    eng.eval_module(ENTRY, "t:entry")
    return eng, eng.eval("out")


def test_a_module_is_compiled_once_and_read_by_later_runtimes_with_the_same_behaviour():
    src = _Modules({"m:lib": LIB})
    engine_mod._BYTECODE.pop(("m:lib", LIB, False), None)
    _, parsed = _run(src, bytecode=False)
    first, compiled = _run(src)
    code = engine_mod._BYTECODE[("m:lib", LIB, False)]
    second, read = _run(src)
    assert engine_mod._BYTECODE[("m:lib", LIB, False)] is code  # not compiled again
    assert "m:lib" in first._preloaded and "m:lib" in second._preloaded
    assert parsed == compiled == read == [42, "t:entry", "at f (m:lib:4:13)", True]


def test_a_bundled_module_keeps_positions_but_not_its_function_source():
    src = _Modules({"m:lib": LIB}, bundled=("m:lib",))
    for _ in range(2):
        _, out = _run(src)
        assert out == [42, "t:entry", "at f (m:lib:4:13)", False]


def test_registered_module_keeps_import_meta():
    src = _Modules({"m:meta": "export const url = import.meta.url, main = import.meta.main;"})
    for _ in range(2):
        eng = Engine(src)
        eng.eval_module("import { url, main } from 'm:meta'; globalThis.r = [url, main];", "t:entry")
        assert eng.eval("r") == ["m:meta", False]


def test_a_module_that_does_not_compile_is_left_to_the_loader_and_its_error():
    bad = "export const = 1;\n"
    src = _Modules({"m:bad": bad})
    texts = []
    for bytecode in (False, True, True):
        eng = Engine(src)
        if not bytecode:
            eng._loader.prepare = None
        with pytest.raises(JSRuntimeError) as info:
            eng.eval_module("import 'm:bad';", "t:entry")
        texts.append(str(info.value))
    assert texts[0] == texts[1] == texts[2]
    assert "SyntaxError" in texts[0]
    assert engine_mod._BYTECODE[("m:bad", bad, False)] is None


def test_a_module_that_fails_to_load_is_asked_for_once_and_reported():
    class Missing(_Modules):
        def load(self, module_id: str) -> tuple[str, str]:
            self.loads.append(module_id)
            raise LookupError(f"no {module_id}")

    src = Missing({})
    eng = Engine(src)
    with pytest.raises(JSRuntimeError):
        eng.eval_module("import 'm:gone';", "t:entry")
    assert src.loads == ["m:gone"]
    err = eng.take_load_error()
    assert isinstance(err, LookupError) and str(err) == "no m:gone"


def test_changed_source_is_compiled_again():
    src = _Modules({"m:v": "export const v = 1;"})
    Engine(src).eval_module("import { v } from 'm:v'; globalThis.v = v;", "t:entry")
    src.modules["m:v"] = "export const v = 2;"
    eng = Engine(src)
    eng.eval_module("import { v } from 'm:v'; globalThis.v = v;", "t:entry")
    assert eng.eval("v") == 2


def test_on_load_hears_of_every_registered_module_once():
    src = _Modules({"m:a": "import 'm:b'; export {};", "m:b": "export {};"})
    for _ in range(2):
        heard: list[str] = []
        eng = Engine(src)
        eng.on_load(heard.append)
        eng.eval_module("import 'm:a'; import 'm:b';", "t:entry")
        assert sorted(heard) == ["m:a", "m:b"]


def test_dukpy_shims_are_not_installed():
    eng = Engine(_Modules({}))
    # no process.env copy of the environment (k6 has no `process`), no dukpy CommonJS helpers
    assert eng.eval("[typeof process, typeof _dukpy_eval_cjs_source, typeof require]") == \
        ["undefined", "undefined", "undefined"]


def test_the_extension_is_loaded_without_the_dukpy_package():
    code = ("import sys, jsrunner.engine as e; "
            "print('dukpy' in sys.modules, 'urllib.request' in sys.modules); "
            "import dukpy; print(sys.modules['dukpy._dukpy'] is e._dukpy, dukpy.JSRuntimeError is e.JSRuntimeError)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "True", "True"]


def test_host_call_codecs_match_the_json_module() -> None:
    import json

    from jsrunner.engine import _dumps, _loads
    values = [0, -1.5, 2**70, 1e300, "", 'quote " and é', None, True, [], {}, [1, [2, {"a": [None]}]],
              {"k": float("nan")}]
    for v in values:
        assert _dumps(v) == json.dumps(v, separators=(",", ":"))
    for v in values[:-1]:  # NaN != NaN
        assert _loads(_dumps(v)) == v
    with pytest.raises(TypeError, match="not JSON serializable"):
        _dumps(object())


def test_every_runtime_shares_one_interrupt_handler_that_asks_its_own_engine():
    src = _Modules({})
    stuck, busy = Engine(src), Engine(src)
    stuck.set_interrupt_check(lambda: True)
    asked: list[bool] = []
    busy.set_interrupt_check(lambda: asked.append(True) or False)
    with pytest.raises(JSRuntimeError, match="interrupted"):
        stuck.eval("for (;;) {}")
    assert stuck.take_interrupted() and not stuck.take_interrupted()
    assert busy.eval("let n = 0; for (let i = 0; i < 300000; i++) n += i; n") == 44999850000
    assert asked and not busy.take_interrupted()
    assert engine_mod._ENGINES[stuck._rt]() is stuck and engine_mod._ENGINES[busy._rt]() is busy


def test_a_dead_engines_entry_goes_but_not_a_newer_one_at_the_same_address():
    eng = Engine(_Modules({}))
    rt = eng._rt
    del eng
    import gc
    gc.collect()
    assert rt not in engine_mod._ENGINES
    # a runtime freed and another allocated at its address before the old ref's callback ran
    old, new = Engine(_Modules({})), Engine(_Modules({}))
    stale = engine_mod._EngineRef(old, new._rt)
    engine_mod._forget(stale)
    assert engine_mod._ENGINES[new._rt]() is new
    assert engine_mod._on_interrupt(None, None) == 0  # no runtime: nothing to stop


def test_host_function_names_are_shared_between_engines():
    a, b = Engine(_Modules({})), Engine(_Modules({}))
    a.export("some.fn", lambda: 1)
    b.export("some.fn", lambda: 2)
    (key_a,), (key_b,) = a._interp._bfuncs.keys(), b._interp._bfuncs.keys()
    assert key_a == b"some.fn" and key_a is key_b
    assert a.eval("call_python('some.fn')") == 1 and b.eval("call_python('some.fn')") == 2
