"""Fixtures of the fault suite: a misbehaving server per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .badserver import BadServer


@pytest.fixture
def bad() -> Iterator[BadServer]:
    with BadServer() as srv:
        yield srv
