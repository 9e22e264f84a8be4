"""jsrunner: run k6 load-test scripts inside an embedded QuickJS engine (dukpy)."""

__version__ = "0.1.0"
