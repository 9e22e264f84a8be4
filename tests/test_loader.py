"""Module resolution details of the loader that scripts never see directly."""

from __future__ import annotations

import subprocess
import sys

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


def test_bundled_modules_are_the_runtime_and_the_k6_shims(tmp_path):
    loader = ModuleLoader(str(tmp_path / "main.js"))
    assert loader.is_bundled(RUNTIME_ID) and loader.is_bundled("k6") and loader.is_bundled("k6/ws")
    assert not loader.is_bundled(loader.main_id)
    assert not loader.is_bundled("https://jslib.k6.io/k6-utils/1.4.0/index.js")  # JS in k6 too


def test_a_cached_remote_module_is_found_by_its_url_hash(tmp_path):
    import hashlib
    url = "https://example.invalid/lib/index.js"
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / (hashlib.sha256(url.encode()).hexdigest()[:32] + ".js")).write_text("export const x = 1;\n")
    loader = ModuleLoader(str(tmp_path / "main.js"), cache_dir=str(cache), allow_remote=False)
    assert loader.load(url) == (url, "export const x = 1;\n")


def test_importing_the_loader_maps_no_openssl():
    # hashlib maps libcrypto (~3.5 MB of RSS in every process): only a download needs it
    code = "import sys, jsrunner.loader; print('_hashlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
