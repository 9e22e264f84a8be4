"""k6/crypto: known-answer digests (RFC/NIST), HMAC, Hasher, errors; pure-Python MD4/RIPEMD-160."""

from __future__ import annotations

import base64
import hashlib
import hmac as py_hmac
import os

import pytest

from jsrunner.bindings.crypto import MD4, RIPEMD160, encode_digest, host_digest, new_hash

from . import first_line, run_script

IMPORTS = ("import crypto, { md4, md5, sha1, sha256, sha384, sha512, sha512_224, sha512_256, ripemd160, "
           "hmac, createHash, createHMAC, randomBytes, hexEncode } from 'k6/crypto';")

# digests of "abc" (RFC 1320, RFC 1321, FIPS 180-4 examples, RIPEMD-160 reference)
ABC = {
    "md4": "a448017aaf21d8525fc10ae87aa6729d",
    "md5": "900150983cd24fb0d6963f7d28e17f72",
    "sha1": "a9993e364706816aba3e25717850c26c9cd0d89d",
    "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    "sha384": "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
    "sha512": "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
              "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
    "sha512_224": "4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa",
    "sha512_256": "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23",
    "ripemd160": "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc",
}
EMPTY = {
    "md4": "31d6cfe0d16ae931b73c59d7e0c089c0",
    "md5": "d41d8cd98f00b204e9800998ecf8427e",
    "sha1": "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "ripemd160": "9c1185a5c5e9fc54612808977ee8f548b2258d31",
}


def js(tmp_path, body: str):
    src = IMPORTS + "\nconst out = (v) => console.log(JSON.stringify(v));\n" \
        "const err = (f) => { try { f(); return 'no error'; } catch (e) { return [e.name, e.message]; } };\n" \
        "export default function () {\n" + body + "\n}\n"
    res = run_script(tmp_path, src)
    assert res.init_error is None, res.init_error
    assert res.errors == [None], res.errors
    return res.out


def test_known_digests(tmp_path):
    algs = list(ABC)
    body = "".join(f"out([{a}('abc', 'hex'), crypto.{a}('abc', 'hex')]);\n" for a in algs)
    body += "".join(f"out({a}('', 'hex'));\n" for a in EMPTY)
    out = js(tmp_path, body)
    assert out[:len(algs)] == [[ABC[a], ABC[a]] for a in algs]
    assert out[len(algs):] == [EMPTY[a] for a in EMPTY]


def test_output_encodings(tmp_path):
    out = js(tmp_path, """
      out(sha256('hello world!', 'hex'));
      out(sha256('hello world!', 'base64'));
      out(sha256('hello world!', 'base64url'));
      out(sha256('hello world!', 'base64rawurl'));
      const bin = sha256('hello world!', 'binary');
      out([bin instanceof ArrayBuffer, bin.byteLength, hexEncode(bin)]);
      out(md5('abc', 'base64'));
    """)
    raw = hashlib.sha256(b"hello world!").digest()
    assert out[0] == "7509e5bda0c762d2bac7f90d758b5b2263fa01ccbc542ab5e3df163be08e6ca9"  # k6 docs
    assert out[1] == base64.b64encode(raw).decode()
    assert out[2] == base64.urlsafe_b64encode(raw).decode()
    assert out[2].endswith("=") and not out[3].endswith("=")
    assert out[3] == base64.urlsafe_b64encode(raw).decode().rstrip("=")
    assert out[4] == [True, 32, raw.hex()]
    assert out[5] == "kAFQmDzST7DWlj99KOF/cg=="


def test_inputs_are_bytes_or_utf8(tmp_path):
    out = js(tmp_path, """
      const abc = new Uint8Array([97, 98, 99]);
      out(md5(abc.buffer, 'hex'));
      out(md5(abc, 'hex'));
      out(md5(new Uint8Array([0, 97, 98, 99, 0]).subarray(1, 4), 'hex'));
      out(sha1('é', 'hex'));
      out(sha1('a\\ud800', 'hex'));
      out(sha256(new Uint8Array([0, 128, 255]).buffer, 'hex'));
    """)
    assert out[:3] == [ABC["md5"]] * 3
    assert out[3] == hashlib.sha1("é".encode()).hexdigest()
    assert out[4] == hashlib.sha1("a\ufffd".encode()).hexdigest()  # lone surrogate -> U+FFFD
    assert out[5] == hashlib.sha256(b"\x00\x80\xff").hexdigest()


def test_hmac_rfc_vectors(tmp_path):
    out = js(tmp_path, """
      const jefe = ['Jefe', 'what do ya want for nothing?'];
      out(hmac('sha256', jefe[0], jefe[1], 'hex'));
      out(hmac('sha512', jefe[0], jefe[1], 'hex'));
      out(hmac('md5', jefe[0], jefe[1], 'hex'));
      out(hmac('sha1', jefe[0], jefe[1], 'hex'));
      const k0b = new Uint8Array(20).fill(0x0b).buffer;
      out(hmac('sha256', k0b, 'Hi There', 'hex'));
      out(hmac('ripemd160', k0b, 'Hi There', 'hex'));
      const big = new Uint8Array(131).fill(0xaa).buffer;
      out(hmac('sha256', big, 'Test Using Larger Than Block-Size Key - Hash Key First', 'hex'));
      out(hmac('md4', 'key', 'data', 'hex'));
      out(crypto.hmac('sha256', 'a secret', 'my data', 'base64rawurl'));
    """)
    assert out[:7] == [
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",  # RFC 4231 #2
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
        "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        "750c783e6ab0b503eaa86e310a5db738",  # RFC 2202
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",  # RFC 4231 #1
        "24cb4bd67d20fc1a5d2ed7732dcc39377f0a5668",  # RFC 2286
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",  # RFC 4231 #6
    ]
    assert out[7] == py_hmac.new(b"key", b"data", MD4).hexdigest()
    assert out[8] == base64.urlsafe_b64encode(
        py_hmac.new(b"a secret", b"my data", "sha256").digest()).decode().rstrip("=")


def test_hasher_objects(tmp_path):
    out = js(tmp_path, """
      const h = createHash('sha256');
      h.update('hello ');
      h.update('world!');
      out(h.digest('hex'));
      out(h.digest('hex'));                      // digest() does not reset
      h.update(new Uint8Array([33]).buffer);     // ... and update() continues after it
      out(h.digest('hex'));
      const m = createHMAC('sha256', 'a secret');
      m.update('my ');
      m.update('data');
      out(m.digest('hex') === hmac('sha256', 'a secret', 'my data', 'hex'));
      const s = createHash('sha1');
      s.update('\\ud83d'); s.update('\\ude00');  // halves of a pair, each its own U+FFFD in Go
      out(s.digest('hex'));
      out([typeof h.update, typeof h.digest, Object.keys(crypto).sort()]);
      const r = createHash('md5'); for (let i = 0; i < 1000; i++) r.update('x'.repeat(100)); out(r.digest('hex'));
    """)
    assert out[0] == out[1] == "7509e5bda0c762d2bac7f90d758b5b2263fa01ccbc542ab5e3df163be08e6ca9"
    assert out[2] == hashlib.sha256(b"hello world!!").hexdigest()
    assert out[3] is True
    assert out[4] == hashlib.sha1("\ufffd\ufffd".encode()).hexdigest()
    assert out[5] == ["function", "function", sorted(
        ["createHash", "createHMAC", "hmac", "md4", "md5", "sha1", "sha256", "sha384", "sha512",
         "sha512_224", "sha512_256", "ripemd160", "randomBytes", "hexEncode"])]
    assert out[6] == hashlib.md5(b"x" * 100000).hexdigest()


def test_random_bytes_and_hex(tmp_path):
    out = js(tmp_path, """
      const a = randomBytes(32), b = randomBytes(32);
      out([a instanceof ArrayBuffer, a.byteLength, hexEncode(a) !== hexEncode(b), randomBytes(2.9).byteLength]);
      out(hexEncode(new Uint8Array([0, 1, 15, 16, 255]).buffer));
      out(hexEncode(new Uint8Array([0, 1, 15, 16, 255]).subarray(3)));
      out(hexEncode('hé'));
      out(hexEncode(''));
    """)
    assert out[0] == [True, 32, True, 2]
    assert out[1:] == ["00010f10ff", "10ff", "68c3a9", ""]


def test_errors(tmp_path):
    out = js(tmp_path, """
      out(err(() => md5(5, 'hex')));
      out(err(() => sha256(null, 'hex')));
      out(err(() => ripemd160({}, 'hex')));
      out(err(() => md5('a', 'nope')));
      out(err(() => md5('a')));
      out(err(() => hmac('nope', 'k', 'd', 'hex')));
      out(err(() => hmac('sha256', null, 'd', 'hex')));
      out(err(() => hmac('sha256', 'k', [1], 'hex')));
      out(err(() => hmac('sha256', 'k', 'd', 'HEX')));
      out(err(() => createHMAC('whirlpool', 'k')));
      out(err(() => createHMAC('sha1', 1.5)));
      out(err(() => createHash('sha3')));
      out(err(() => createHash('md5').update(true)));
      out(err(() => createHash('md5').digest('utf8')));
      out(err(() => randomBytes(0)));
      out(err(() => randomBytes(-1)));
      out(err(() => randomBytes('x')));
      out(err(() => hexEncode(7)));
    """)
    t = "invalid type {}, expected string, []byte or ArrayBuffer"
    assert out == [
        ["GoError", "md5 failed: " + t.format("int64")],
        ["GoError", "sha256 failed: " + t.format("<nil>")],
        ["GoError", "ripemd160 failed: " + t.format("map[string]interface {}")],
        ["GoError", "invalid output encoding: nope"],
        ["GoError", "invalid output encoding: "],
        ["GoError", "invalid algorithm: nope"],
        ["GoError", t.format("<nil>")],
        ["GoError", t.format("[]interface {}")],
        ["GoError", "invalid output encoding: HEX"],
        ["GoError", "invalid algorithm: whirlpool"],
        ["GoError", t.format("float64")],
        ["GoError", "invalid algorithm: sha3"],
        ["GoError", t.format("bool")],
        ["GoError", "invalid output encoding: utf8"],
        ["GoError", "invalid size"],
        ["GoError", "invalid size"],
        ["GoError", "invalid size"],
        ["GoError", t.format("int64")],
    ]


def test_usable_in_init_and_uncaught(tmp_path):
    src = IMPORTS + """
      const h = sha1('abc', 'hex');
      console.log(JSON.stringify(h));
      export default function () { md5('x', 'bogus'); }
    """
    res = run_script(tmp_path, src)
    assert res.out == [ABC["sha1"]]
    assert first_line(res.errors[0]) == "GoError: invalid output encoding: bogus"


# ---- pure Python ------------------------------------------------------------------------------
MD4_RFC1320 = [
    (b"", "31d6cfe0d16ae931b73c59d7e0c089c0"),
    (b"a", "bde52cb31de33e46245e05fbdbd6fb24"),
    (b"abc", "a448017aaf21d8525fc10ae87aa6729d"),
    (b"message digest", "d9130a8164549fe818874806e1c7014b"),
    (b"abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"),
    (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "043f8582f241db351ce627e153e7f0e4"),
    (b"1234567890" * 8, "e33b4ddc9c38f2199c3e7b164fcc0536"),
]
RIPEMD160_VECTORS = [
    (b"", "9c1185a5c5e9fc54612808977ee8f548b2258d31"),
    (b"a", "0bdc9d2d256b3ee9daae347be6f4dc835a467ffe"),
    (b"abc", "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"),
    (b"message digest", "5d0689ef49d2fae572b881b123a85ffa21595f36"),
    (b"abcdefghijklmnopqrstuvwxyz", "f71c27109c692c1b56bbdceb5b9d2865b3708dbc"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "12a053384a9c0c88e405a06c27dcf49ada62eb2b"),
    (b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "b0e20b6e3116640286ed3a87a5713079b21f5189"),
    (b"1234567890" * 8, "9b752e45573d4b39f4dbd3323cab82bf63326bfb"),
]


@pytest.mark.parametrize("msg, digest", MD4_RFC1320)
def test_md4_rfc1320(msg, digest):
    assert MD4(msg).hexdigest() == digest
    h = MD4()
    for i in range(0, len(msg), 3):
        h.update(msg[i:i + 3])
    assert h.hexdigest() == digest


@pytest.mark.parametrize("msg, digest", RIPEMD160_VECTORS)
def test_ripemd160_vectors(msg, digest):
    assert RIPEMD160(msg).hexdigest() == digest
    h = RIPEMD160()
    for i in range(0, len(msg), 5):
        h.update(msg[i:i + 5])
    assert h.hexdigest() == digest


def test_fallbacks_behave_like_hashlib_objects():
    h = RIPEMD160(b"ab")
    c = h.copy()
    c.update(b"c")
    assert h.hexdigest() == RIPEMD160(b"ab").hexdigest()
    assert c.hexdigest() == RIPEMD160_VECTORS[2][1]
    assert (MD4.digest_size, MD4.block_size, RIPEMD160.digest_size, RIPEMD160.block_size) == (16, 64, 20, 64)
    # lengths around the padding boundary
    for n in (55, 56, 57, 63, 64, 65, 119, 120, 128):
        data = os.urandom(n)
        try:
            ref = hashlib.new("ripemd160", data).hexdigest()
        except ValueError:  # OpenSSL without the legacy provider
            continue
        assert RIPEMD160(data).hexdigest() == ref


def test_host_digest_and_encodings():
    assert host_digest("sha256", None, [["s", "hello "], ["b", "world!"]], "hex") == \
        "7509e5bda0c762d2bac7f90d758b5b2263fa01ccbc542ab5e3df163be08e6ca9"
    assert host_digest("md5", ["s", "Jefe"], [["s", "what do ya want for nothing?"]], "hex") == \
        "750c783e6ab0b503eaa86e310a5db738"
    assert encode_digest(b"\xff\xfe", "binary") == "\xff\xfe"
    with pytest.raises(ValueError):
        encode_digest(b"", "utf8")
    assert new_hash("sha512_224").digest_size == 28
