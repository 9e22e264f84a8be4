"""pytest plugin entry point (collects and runs k6 scripts as test items)."""
