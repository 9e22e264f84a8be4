"""jsrunner: run k6 load-test scripts inside an embedded QuickJS engine (dukpy).

Python API (imported lazily, so ``jsrunner`` on the command line starts fast)::

    import jsrunner
    result = jsrunner.run("script.k6.js", vus=2, iterations=10)

See :mod:`jsrunner.api` and :mod:`jsrunner.errors`.
"""

__version__ = "0.1.0"

__all__ = ["Check", "Result", "Threshold", "__version__", "errors", "run", "run_source"]

_API = frozenset({"Check", "Result", "Threshold", "run", "run_source"})


def __getattr__(name: str):  # PEP 562: lazy re-exports
    if name in _API:
        from . import api
        return getattr(api, name)
    if name in ("api", "errors"):
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
