"""Module resolution details of the loader that scripts never see directly."""

from __future__ import annotations

import pytest

from jsrunner.errors import ModuleNotFound
from jsrunner.loader import ENTRY_ID, RUNTIME_ID, ModuleLoader


def test_the_runtime_module_is_importable_from_the_entry_only(tmp_path):
    loader = ModuleLoader(str(tmp_path / "main.js"))
    assert loader.resolve(ENTRY_ID, RUNTIME_ID) == RUNTIME_ID
    with pytest.raises(ModuleNotFound, match="couldn't be recognised"):
        loader.resolve(loader.main_id, RUNTIME_ID)


def test_runtime_module_source_sets_the_vu_globals(tmp_path):
    loader = ModuleLoader(str(tmp_path / "main.js"))
    ident, source = loader.load(RUNTIME_ID)
    assert ident == RUNTIME_ID
    assert "K.runLoop" in source and "__k6.setVU(dukpy.id)" in source


def test_sources_lists_the_runtime_and_what_was_loaded(tmp_path):
    (tmp_path / "lib.js").write_text("export const x = 1;\n")
    loader = ModuleLoader(str(tmp_path / "main.js"))
    assert [(ident, ours) for ident, _, ours in loader.sources()] == [(RUNTIME_ID, True)]
    lib = loader.resolve(loader.main_id, "./lib.js")
    loader.load(lib)
    loader.load("k6")
    listed = loader.sources()
    assert [(ident, ours) for ident, _, ours in listed] == [(RUNTIME_ID, True), (lib, False), ("k6", True)]
    assert listed[1][1] == "export const x = 1;\n"
