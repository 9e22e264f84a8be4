"""Shared fixtures: the bundled test server runs once per session on 127.0.0.1."""

from jsrunner.testserver.fixtures import fresh_ws_server, ws_server  # noqa: F401
