"""The engine: compiled-module preloading and the interpreter set-up it trims."""

from __future__ import annotations

import pytest

from jsrunner import engine as engine_mod
from jsrunner.engine import Engine, JSRuntimeError


class _Modules:
    """A module source over a dict, counting loads (preloaded modules are never loaded)."""

    def __init__(self, modules: dict[str, str]) -> None:
        self.modules = modules
        self.loads: list[str] = []

    def resolve(self, base: str, spec: str) -> str:
        return spec

    def load(self, module_id: str) -> tuple[str, str]:
        self.loads.append(module_id)
        return module_id, self.modules[module_id]


LIB = "export const a = 40;\n\nexport function f() {\n  throw new Error('boom');\n}\n"
ENTRY = ("import * as m from 'm:lib'; globalThis.out = [m.a + 2, import.meta.url];"
         " try { m.f(); } catch (e) { globalThis.out.push(e.stack.split('\\n')[0].trim()); }")


def _run(modules: _Modules, preload: bool) -> list:
    eng = Engine(modules)
    if preload:
        eng.preload((k, v, False) for k, v in modules.modules.items())
    eng.eval_module(ENTRY, "t:entry")
    return eng.eval("out")


def test_preloaded_module_behaves_as_the_loaded_one_and_skips_the_loader():
    src = _Modules({"m:lib": LIB})
    loaded = _run(src, preload=False)
    assert src.loads == ["m:lib"]
    src.loads.clear()
    first = _run(src, preload=True)   # compiles in this runtime, keeps the bytecode
    second = _run(src, preload=True)  # reads the bytecode
    assert src.loads == []
    assert first == second == loaded == [42, "t:entry", "at f (m:lib:4:13)"]
    assert engine_mod._BYTECODE[("m:lib", LIB, False)]


def test_preloaded_module_keeps_import_meta():
    src = _Modules({"m:meta": "export const url = import.meta.url, main = import.meta.main;"})
    eng = Engine(src)
    eng.preload((k, v, False) for k, v in src.modules.items())
    eng.eval_module("import { url, main } from 'm:meta'; globalThis.r = [url, main];", "t:entry")
    assert eng.eval("r") == ["m:meta", False]


def test_preloading_does_not_evaluate_a_module_nobody_imports():
    src = _Modules({"m:side": "globalThis.side = 1; export {};", "m:lib": LIB})
    eng = Engine(src)
    eng.preload((k, v, False) for k, v in src.modules.items())
    eng.eval_module(ENTRY, "t:entry")
    assert eng.eval("typeof side") == "undefined"


def test_a_module_that_does_not_compile_is_left_to_the_loader_and_its_error():
    bad = "export const = 1;\n"
    src = _Modules({"m:bad": bad})
    expected = None
    for preload in (False, True, True):
        eng = Engine(src)
        if preload:
            eng.preload((k, v, False) for k, v in src.modules.items())
        with pytest.raises(JSRuntimeError) as info:
            eng.eval_module("import 'm:bad';", "t:entry")
        if expected is None:
            expected = str(info.value)
        assert str(info.value) == expected
    assert "SyntaxError" in expected
    assert engine_mod._BYTECODE[("m:bad", bad, False)] is None


def test_changed_source_is_compiled_again():
    src = _Modules({"m:v": "export const v = 1;"})
    eng = Engine(src)
    eng.preload((k, v, False) for k, v in src.modules.items())
    src.modules["m:v"] = "export const v = 2;"
    eng2 = Engine(src)
    eng2.preload((k, v, False) for k, v in src.modules.items())
    eng2.eval_module("import { v } from 'm:v'; globalThis.v = v;", "t:entry")
    assert eng2.eval("v") == 2


def test_dukpy_shims_are_not_installed():
    eng = Engine(_Modules({}))
    # no process.env copy of the environment (k6 has no `process`), no dukpy CommonJS helpers
    assert eng.eval("[typeof process, typeof _dukpy_eval_cjs_source, typeof require]") == \
        ["undefined", "undefined", "undefined"]


def test_stripped_module_keeps_positions_but_not_function_source():
    src = _Modules({"m:lib": LIB})
    for _ in range(2):
        eng = Engine(src)
        eng.preload([("m:lib", LIB, True)])
        eng.eval_module(ENTRY + " globalThis.out.push(String(m.f));", "t:entry")
        out = eng.eval("out")
        assert out[:3] == [42, "t:entry", "at f (m:lib:4:13)"]
        assert "throw" not in out[3] and "[native code]" in out[3]


def test_the_extension_is_loaded_without_the_dukpy_package():
    import subprocess
    import sys
    code = ("import sys, jsrunner.engine as e; "
            "print('dukpy' in sys.modules, 'urllib.request' in sys.modules); "
            "import dukpy; print(sys.modules['dukpy._dukpy'] is e._dukpy, dukpy.JSRuntimeError is e.JSRuntimeError)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "True", "True"]
