"""The JS-facing k6 modules: one Python host module (+ a JS shim in ``js/``) per k6 module.

Each host module has ``install(vu)``, which exports the host functions its shim calls via
``call_python``. Names are prefixed with the module's short name (``ws.connect``), so
bindings never collide. ``core`` (console, ``open``, ``sleep``) is installed in every VU;
the others only when their k6 module is about to be imported (``install_for``): a VU of
a script that imports ``k6/timers`` alone does not build the ~40 closures of the rest.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ..loader import BUILTINS

if TYPE_CHECKING:
    from ..vu import VU

#: host modules, imported lazily so a missing optional piece never breaks the core
HOST_MODULES = ("core", "execution", "metrics", "encoding", "crypto", "data", "websockets", "ws")

#: k6 module id -> the host module its shim calls (shims that call none are absent)
_HOST_OF: dict[str, str] = {
    module_id: shim[:-3] for module_id, shim in BUILTINS.items() if shim[:-3] in HOST_MODULES
}

_INSTALLED = "bindings.installed"  # key of the installed host modules in vu.binding_state


def install(vu: "VU") -> None:
    """Install the host side every VU needs (the rest follows its imports)."""
    _install(vu, "core")


def install_for(vu: "VU", module_id: str) -> None:
    """Install the host module of the k6 module ``module_id`` (once; others: no-op)."""
    name = _HOST_OF.get(module_id)
    if name is not None:
        _install(vu, name)


def _install(vu: "VU", name: str) -> None:
    installed: set[str] = vu.binding_state.setdefault(_INSTALLED, set())
    if name in installed:
        return
    installed.add(name)
    try:
        module = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"{__name__}.{name}":
            return
        raise
    module.install(vu)
