"""k6/encoding (runtime.md §10): through a real VU, plus the Go-compatible decoder in Python."""

from __future__ import annotations

import base64
import json
import random

import pytest

from jsrunner.bindings.encoding import (CorruptInputError, b64decode, b64encode, go_string, go_utf8,
                                        host_b64decode)

from . import first_line, run_script


def js(tmp_path, body: str, imports: str = "import encoding, { b64encode, b64decode } from 'k6/encoding';"):
    src = imports + "\nconst out = (v) => console.log(JSON.stringify(v));\n" \
        "const err = (f) => { try { f(); return 'no error'; } catch (e) { return [e.name, e.message]; } };\n" \
        "export default function () {\n" + body + "\n}\n"
    res = run_script(tmp_path, src)
    assert res.init_error is None, res.init_error
    assert res.errors == [None], res.errors
    return res.out


def test_spec_examples(tmp_path):
    out = js(tmp_path, """
      out(b64encode('hi?>', 'url'));
      out(b64encode('hi?>', 'rawurl'));
      out(b64encode('a', 'rawstd'));
      out(b64encode('hi?>'));
      out(b64encode('hi?>', 'std'));
      out(b64encode('hi?>', 'nonsense'));
      out(b64encode('hello world'));
      out(b64encode('hello world', 'rawstd'));
      out(b64encode('こんにちは世界', 'std'));
      out(b64encode('小飼弾..', 'url'));
      out(b64encode('小飼弾..', 'rawurl'));
      out(b64encode(''));
    """)
    assert out == ["aGk_Pg==", "aGk_Pg", "YQ", "aGk/Pg==", "aGk/Pg==", "aGk/Pg==", "aGVsbG8gd29ybGQ=",
                   "aGVsbG8gd29ybGQ", "44GT44KT44Gr44Gh44Gv5LiW55WM", "5bCP6aO85by-Li4=", "5bCP6aO85by-Li4", ""]


def test_binary_inputs(tmp_path):
    out = js(tmp_path, """
      const bytes = new Uint8Array([104, 101, 108, 108, 111]);
      out(b64encode(bytes.buffer));
      out(b64encode(bytes));
      out(b64encode(bytes.subarray(1, 3)));
      out(b64encode(new Uint16Array([0x6968]).buffer));
      out(b64encode(new DataView(bytes.buffer, 4, 1)));
      const all = new Uint8Array(256); for (let i = 0; i < 256; i++) all[i] = i;
      out(b64encode(all.buffer, 'rawurl'));
    """)
    assert out[:5] == ["aGVsbG8=", "aGVsbG8=", "ZWw=", "aGk=", "bw=="]
    assert out[5] == base64.urlsafe_b64encode(bytes(range(256))).decode().rstrip("=")


def test_decode_results(tmp_path):
    out = js(tmp_path, """
      const ab = b64decode('aGVsbG8=');
      out([ab instanceof ArrayBuffer, ab.byteLength, Array.from(new Uint8Array(ab))]);
      out(b64decode('aGVsbG8gd29ybGQ=', 'std', 's'));
      out(b64decode('aGVsbG8gd29ybGQ', 'rawstd', 's'));
      out(b64decode('5bCP6aO85by-Li4=', 'url', 's'));
      out(b64decode('5bCP6aO85by-Li4', 'rawurl', 's'));
      out(b64decode('44GT44KT44Gr44Gh44Gv5LiW55WM', undefined, 's'));
      out(typeof b64decode('aGk=', 'std', 'x'));
      out(b64decode('', 'std', 's'));
      out(b64decode('YWJj\\r\\nZGVm', 'std', 's'));
      out(Array.from(new Uint8Array(b64decode(b64encode(new Uint8Array([0, 127, 128, 255]))))));
      out(b64decode('/w==', 'std', 's'));
      out(b64decode('4oJh', 'std', 's'));
      out(b64encode(b64decode(b64encode('a\\ud800b'), 'std', 's')));
    """)
    assert out[0] == [True, 5, [104, 101, 108, 108, 111]]
    assert out[1:6] == ["hello world", "hello world", "小飼弾..", "小飼弾..", "こんにちは世界"]
    assert out[6] == "object"
    assert out[7:9] == ["", "abcdef"]
    assert out[9] == [0, 127, 128, 255]
    # invalid UTF-8 in "s" format: one U+FFFD per bad byte (Go), even inside a truncated sequence
    assert out[10] == "\ufffd"
    assert out[11] == "\ufffd\ufffda"
    # a lone surrogate is encoded as U+FFFD (EF BF BD)
    assert out[12] == base64.b64encode("a\ufffdb".encode()).decode()


def test_decode_errors(tmp_path):
    out = js(tmp_path, """
      out(err(() => b64decode('aGVsbG8')));
      out(err(() => b64decode('!!!!')));
      out(err(() => b64decode('aGVsbG8=', 'rawstd')));
      out(err(() => b64decode('aGk_Pg==', 'std')));
      out(err(() => b64decode('aGk/Pg==', 'url')));
      out(err(() => b64decode('YQ==x')));
      out(err(() => b64decode('YQ=')));
      out(err(() => b64decode('Y', 'rawstd')));
      out(err(() => b64decode('aGVsbG8gd29ybGQ=é')));
      out(err(() => b64decode(undefined)));
      out(err(() => b64decode(null, 'std', 's')));
    """)
    assert out[:9] == [
        ["GoError", "illegal base64 data at input byte 4"],
        ["GoError", "illegal base64 data at input byte 0"],
        ["GoError", "illegal base64 data at input byte 7"],
        ["GoError", "illegal base64 data at input byte 3"],
        ["GoError", "illegal base64 data at input byte 3"],
        ["GoError", "illegal base64 data at input byte 4"],
        ["GoError", "illegal base64 data at input byte 3"],
        ["GoError", "illegal base64 data at input byte 0"],
        ["GoError", "illegal base64 data at input byte 16"],
    ]
    assert out[9] == "no error"  # undefined -> Go "" -> empty result
    assert out[10] == "no error"


def test_encode_type_errors(tmp_path):
    out = js(tmp_path, """
      out(err(() => b64encode(5)));
      out(err(() => b64encode(1.5)));
      out(err(() => b64encode(true)));
      out(err(() => b64encode(null)));
      out(err(() => b64encode(undefined)));
      out(err(() => b64encode({})));
      out(err(() => b64encode([1, 2])));
    """)
    t = "invalid type {}, expected string, []byte or ArrayBuffer"
    assert out == [["GoError", t.format(x)] for x in
                   ("int64", "float64", "bool", "<nil>", "<nil>", "map[string]interface {}", "[]interface {}")]


def test_default_export_and_uncaught_error(tmp_path):
    src = """
      import encoding from 'k6/encoding';
      import * as ns from 'k6/encoding';
      console.log(JSON.stringify([Object.keys(encoding).sort(), Object.keys(ns).sort(), encoding.b64encode('x')]));
      export default function () { encoding.b64decode('%%%'); }
    """
    res = run_script(tmp_path, src)
    assert res.out == [[["b64decode", "b64encode"], ["b64decode", "b64encode", "default"], "eA=="]]
    assert first_line(res.errors[0]) == "GoError: illegal base64 data at input byte 0"


def test_large_round_trip(tmp_path):
    out = js(tmp_path, """
      const n = 300000;
      const u = new Uint8Array(n); for (let i = 0; i < n; i++) u[i] = (i * 7919) & 255;
      const s = b64encode(u.buffer);
      const back = new Uint8Array(b64decode(s));
      let same = back.length === n; for (let i = 0; same && i < n; i++) same = back[i] === u[i];
      out([s.length, same, s.slice(0, 12)]);
    """)
    expected = base64.b64encode(bytes((i * 7919) & 255 for i in range(300000))).decode()
    assert out == [[len(expected), True, expected[:12]]]


# ---- the Python side ------------------------------------------------------------------------
@pytest.mark.parametrize("src, url, padded, offset", [
    (b"aGVsbG8", False, True, 4),      # spec: missing padding
    (b"!", False, True, 0),
    (b"Y", False, True, 0),
    (b"YQ", False, True, 0),           # padding required: offset of the quantum (si - j)
    (b"YQ=", False, True, 3),          # "=" alone where "==" is needed: end of input
    (b"YQ=x", False, True, 2),         # ... something else follows: the first "="
    (b"YQ==x", False, True, 4),        # trailing garbage after padding
    (b"YQ==\nx", False, True, 5),
    (b"=", False, True, 0),
    (b"Y=", False, True, 1),           # "=" as second char of a quantum
    (b"YWJj=", False, True, 4),
    (b"YQ==", False, False, 2),        # raw variants reject "="
    (b"YWJjZ", False, False, 4),       # one char left over
    (b"ab\ncd\ne", False, False, 6),   # newlines are counted in offsets
    (b"a+b/", True, True, 1),          # std alphabet chars in url variant
    (b"a-b_", False, True, 1),
    (b"\xc3\xa9", False, True, 0),
])
def test_go_decoder_offsets(src, url, padded, offset):
    with pytest.raises(CorruptInputError) as info:
        b64decode(src, url, padded)
    assert info.value.offset == offset
    assert str(info.value) == f"illegal base64 data at input byte {offset}"


@pytest.mark.parametrize("src, url, padded, expected", [
    (b"", False, True, b""),
    (b"\r\n", False, True, b""),
    (b"YQ==", False, True, b"a"),
    (b"YQ=\n=", False, True, b"a"),
    (b"YR==", False, True, b"a"),       # non-zero trailing bits are ignored (non-strict)
    (b"YQ", False, False, b"a"),
    (b"YWI", True, False, b"ab"),
    (b"Y\rW\nJj", False, True, b"abc"),
    (b"_-8=", True, True, b"\xff\xef"),
])
def test_go_decoder_valid(src, url, padded, expected):
    assert b64decode(src, url, padded) == expected


def test_fast_and_exact_paths_agree():
    from jsrunner.bindings.encoding import _MAPS, _decode_exact
    rng = random.Random(7)
    alphabet = b"ABCab01+/-_=\n\r!"
    for _ in range(4000):
        src = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 13)))
        for url in (False, True):
            for padded in (False, True):
                try:
                    fast = b64decode(src, url, padded)
                except CorruptInputError as exc:
                    fast = exc.offset
                try:
                    exact = _decode_exact(src, _MAPS[url], padded)
                except CorruptInputError as exc:
                    exact = exc.offset
                assert fast == exact, (src, url, padded)


def test_encode_variants_python():
    data = bytes(range(250, 256)) + b"?>"
    assert b64encode(data) == base64.b64encode(data).decode()
    assert b64encode(data, url=True) == base64.urlsafe_b64encode(data).decode()
    assert b64encode(b"a", padded=False) == "YQ"


def test_go_string_conversions():
    assert go_utf8("a\ud800b") == b"a\xef\xbf\xbdb"
    assert go_utf8("\U0001F600") == "\U0001F600".encode()
    assert go_string(b"\xe2\x82a") == "\ufffd\ufffda"
    assert go_string(b"\xed\xa0\x80") == "\ufffd" * 3   # encoded surrogate: 3 bad bytes
    assert go_string(b"\xf4\x90\x80\x80") == "\ufffd" * 4  # > U+10FFFF
    assert go_string("ok é".encode()) == "ok é"


def test_host_function_shapes():
    assert host_b64decode("aGk=", "std", "s") == ["ok", "hi"]
    assert host_b64decode("/w==", "std", "") == ["ok", "\xff"]
    assert host_b64decode("aGk", "", "s") == ["err", "illegal base64 data at input byte 0"]
    assert json.loads(json.dumps(host_b64decode("aGk", "rawstd", "s"))) == ["ok", "hi"]
