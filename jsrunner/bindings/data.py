"""Host side of ``k6/data``: the store behind ``SharedArray``.

``new SharedArray(name, fn)`` runs ``fn`` once per run (in the first VU runtime that asks
for ``name``) and keeps the result here as one JSON text per element; every later VU of
the run (setup/teardown runtimes included) gets that list instead of calling ``fn``.

Memory: QuickJS runtimes cannot share objects, so each VU holds its own copy of the
element *strings* (compact: one byte per char for ASCII JSON) and, like k6, parses an
element only when it is read (a fresh deep-frozen copy per read). So N VUs cost about
N x the JSON size, not N x the size of the parsed objects; the Python list is shared.

Concurrency: VUs initialise on several threads. While one VU runs ``fn`` for a name,
the others asking for the same name wait for it (``fn`` is never run twice at the same
time); if ``fn`` throws, the next VU that asks runs it again, as k6 does.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .. import fibers

if TYPE_CHECKING:
    from ..vu import VU

_ATTR = "_jsrunner_shared_arrays"
_create_lock = threading.Lock()


class SharedArrays:
    """The shared arrays of one run: name -> list of element JSON texts."""

    def __init__(self) -> None:
        self._cond = fibers.Condition()
        self._data: dict[str, list[str]] = {}
        self._building: dict[str, int] = {}  # name -> thread id of the VU running fn

    def acquire(self, name: str) -> list[str] | None:
        """The stored elements, or None: the caller must build them and :meth:`store` or :meth:`release`."""
        me = fibers.ident()
        with self._cond:
            while True:
                items = self._data.get(name)
                if items is not None:
                    return items
                owner = self._building.get(name)
                if owner is None or owner == me:  # (same thread: fn nests the same name)
                    self._building[name] = me
                    return None
                self._cond.wait()

    def store(self, name: str, items: list[str]) -> None:
        with self._cond:
            self._data.setdefault(name, items)
            self._building.pop(name, None)
            self._cond.notify_all()

    def release(self, name: str) -> None:
        with self._cond:
            self._building.pop(name, None)
            self._cond.notify_all()

    def get(self, name: str) -> list[str] | None:
        with self._cond:
            return self._data.get(name)

    def names(self) -> list[str]:
        with self._cond:
            return list(self._data)


def shared_arrays(ctx: Any) -> SharedArrays:
    """The store of a run; kept on its :class:`~jsrunner.vu.RunContext`, which every VU shares."""
    store = getattr(ctx, _ATTR, None)
    if store is None:
        with _create_lock:
            store = getattr(ctx, _ATTR, None)
            if store is None:
                store = SharedArrays()
                setattr(ctx, _ATTR, store)
    return store


def install(vu: "VU") -> None:
    engine = vu.engine
    assert engine is not None
    store = shared_arrays(vu.ctx)
    engine.export("data.acquire", store.acquire)
    engine.export("data.store", store.store)
    engine.export("data.release", store.release)
