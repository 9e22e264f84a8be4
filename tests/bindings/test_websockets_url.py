"""Go url.Parse / URL.String as seen through k6's WebSocket constructor (websockets.md §1.1).

Every expected value below was observed with k6 v1.1.0 (``new WebSocket(u).url`` or the
thrown message) for the same input.
"""

from __future__ import annotations

import pytest

from jsrunner.bindings.websockets import check_url

K6_OBSERVED = [
    ('ws://h/a b', 'ok', 'ws://h/a%20b'),
    ('ws://h/é?x=é', 'ok', 'ws://h/%C3%A9?x=é'),
    ('WS://H:80/P', 'ok', 'ws://H:80/P'),
    ('ws://h', 'ok', 'ws://h'),
    ('ws://h?', 'ok', 'ws://h?'),
    ('ws://h/?a=1#', 'ok', 'ws://h/?a=1'),
    ('ws:///p', 'ok', 'ws:///p'),
    ('ws:opaque', 'ok', 'ws:opaque'),
    ('ws://[::1]:80/x', 'ok', 'ws://[::1]:80/x'),
    ('ws://[fe80::1%25en0]/', 'ok', 'ws://[fe80::1%25en0]/'),
    ('ws://[::1]x/', 'err', 'WebSocket requires valid url, but got "ws://[::1]x/" which resulted in parse "ws://[::1]x/": invalid port "x" after host'),
    ('ws://h:/', 'ok', 'ws://h:/'),
    ('ws://h/%41%2f', 'ok', 'ws://h/%41%2f'),
    ('ws://h/a%2Fb', 'ok', 'ws://h/a%2Fb'),
    ('ws://u@h/', 'ok', 'ws://u@h/'),
    ('ws://u:p@h/', 'ok', 'ws://u:p@h/'),
    ('ws://%zz@h/', 'err', 'WebSocket requires valid url, but got "ws://%zz@h/" which resulted in parse "ws://%zz@h/": invalid URL escape "%zz"'),
    ('ws://h/\x01', 'err', 'WebSocket requires valid url, but got "ws://h/\\x01" which resulted in parse "ws://h/\\x01": net/url: invalid control character in URL'),
    ('ws://h/%', 'err', 'WebSocket requires valid url, but got "ws://h/%" which resulted in parse "ws://h/%": invalid URL escape "%"'),
    ('ws://h/a?b#c d', 'err', 'WebSocket requires no url fragment, but got "c d"'),
    ('ws://h/#%zz', 'err', 'WebSocket requires valid url, but got "ws://h/#%zz" which resulted in parse "ws://h/#%zz": invalid URL escape "%zz"'),
    ('wss://h.example.com:443/x?y=z', 'ok', 'wss://h.example.com:443/x?y=z'),
    ('ws://h/a;b,c=d', 'ok', 'ws://h/a;b,c=d'),
    ('ws://h/[x]', 'ok', 'ws://h/[x]'),
    ("ws://h/a'b", 'ok', "ws://h/a'b"),
    ('ws://h/{x}', 'ok', 'ws://h/%7Bx%7D'),
    ('ws://h/~x', 'ok', 'ws://h/~x'),
    ('ws://h/a|b', 'ok', 'ws://h/a%7Cb'),
    ('ws://h/a\\b', 'ok', 'ws://h/a%5Cb'),
    ('ws://xn--bcher-kva.example/', 'ok', 'ws://xn--bcher-kva.example/'),
    ('ws://bücher.example/', 'ok', 'ws://b%C3%BCcher.example/'),
    ('ws://h/a%20b', 'ok', 'ws://h/a%20b'),
    ('ws://h/a+b', 'ok', 'ws://h/a+b'),
    ('ws://h:65536/', 'ok', 'ws://h:65536/'),
    ('ws://h:0x1/', 'err', 'WebSocket requires valid url, but got "ws://h:0x1/" which resulted in parse "ws://h:0x1/": invalid port ":0x1" after host'),
    ('ws://h h/', 'err', 'WebSocket requires valid url, but got "ws://h h/" which resulted in parse "ws://h h/": invalid character " " in host name'),
    ('ws://h%41/', 'err', 'WebSocket requires valid url, but got "ws://h%41/" which resulted in parse "ws://h%41/": invalid URL escape "%41"'),
    ('ws://h%20/', 'err', 'WebSocket requires valid url, but got "ws://h%20/" which resulted in parse "ws://h%20/": invalid URL escape "%20"'),
    ('//h/x', 'err', 'WebSocket requires url with scheme ws or wss, but got ""'),
    ('ws://h/../x', 'ok', 'ws://h/../x'),
    ('ws://h//x', 'ok', 'ws://h//x'),
    ('ws://h/?q=%zz', 'ok', 'ws://h/?q=%zz'),
]


@pytest.mark.parametrize("url,kind,expected", K6_OBSERVED)
def test_url_like_k6(url, kind, expected):
    r = check_url(url)
    assert [r[0], r[1]] == [kind, expected]


def test_dial_errors_for_urls_gorilla_refuses():
    assert check_url("ws://u:p@h/")[2] == "malformed ws or wss URL"
    assert check_url("ws:opaque")[2] == "lookup : no such host"
    assert check_url("ws:///p")[2] == "lookup : no such host"
    assert check_url("ws://h/")[2] is None
