"""The JS-facing k6 modules: one Python host module (+ a JS shim in ``js/``) per k6 module.

Each host module has ``install(vu)``, which exports the host functions its shim calls via
``call_python``. Names are prefixed with the module's short name (``ws.connect``), so
bindings never collide. Installing is a few dict inserts, so every VU gets all of them
and the shims are only evaluated when a script imports them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..vu import VU

#: host modules, imported lazily so a missing optional piece never breaks the core
HOST_MODULES = ("core", "execution", "metrics", "encoding", "crypto", "data", "websockets", "ws")


def install(vu: "VU") -> None:
    for name in HOST_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"{__name__}.{name}":
                continue
            raise
        module.install(vu)
