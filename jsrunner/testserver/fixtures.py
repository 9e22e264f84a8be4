"""Pytest fixtures for the local test server.

Add to ``tests/conftest.py``::

    from jsrunner.testserver.fixtures import ws_server, fresh_ws_server  # noqa: F401
"""

from __future__ import annotations

from typing import Iterator

import pytest

from .server import ServerThread

__all__ = ["ws_server", "fresh_ws_server"]


@pytest.fixture(scope="session")
def ws_server() -> Iterator[ServerThread]:
    """One running :class:`ServerThread` for the whole session (``ws_server.url``)."""
    with ServerThread() as srv:
        yield srv


@pytest.fixture
def fresh_ws_server(ws_server: ServerThread) -> ServerThread:
    """The session server with every counter and received message reset."""
    ws_server.reset()
    return ws_server
