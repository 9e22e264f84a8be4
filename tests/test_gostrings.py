"""Go's string quoting used in k6-exact error texts (thresholds, WebSocket URLs)."""

from __future__ import annotations

import pytest

from jsrunner.gostrings import go_quote


@pytest.mark.parametrize("text, quoted", [
    ("", '""'),
    ("p(95)<200", '"p(95)<200"'),
    ('say "hi"\\', '"say \\"hi\\"\\\\"'),
    ("a\nb\tc\rd", '"a\\nb\\tc\\rd"'),
    ("\x01\x7f", '"\\x01\\x7f"'),
    ("é€", '"é€"'),
    ("\ud800x", '"\\ufffdx"'),  # a lone surrogate quotes as Go's replacement of invalid UTF-8
])
def test_go_quote_matches_strconv_quote(text: str, quoted: str) -> None:
    assert go_quote(text) == quoted
