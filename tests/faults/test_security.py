"""Security defaults: TLS verification, https-only remote modules, open() limits, secrets."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from .badserver import BadServer
from .util import run, script

# ---- TLS ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> tuple[str, str]:
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    try:
        from cryptography import x509  # noqa: F401
        _make_cert_cryptography(cert, key)
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor the openssl CLI is available")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                        "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return str(cert), str(key)


def _make_cert_cryptography(cert: Path, key: Path) -> None:  # pragma: no cover - if installed
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    k = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                        critical=False)
         .sign(k, hashes.SHA256()))
    cert.write_bytes(c.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))


TLS_SCRIPT = """
import { WebSocket } from 'k6/websockets';
import ws from 'k6/ws';
export const options = { iterations: 1, insecureSkipTLSVerify: __ENV.SKIP === '1' };
export default function () {
  if (__ENV.API === 'legacy') {
    const res = ws.connect(__ENV.URL + '/echo', null, (s) => { s.on('open', () => { console.log('open'); s.close(); }); });
    console.log('status ' + res.status);
    return;
  }
  const w = new WebSocket(__ENV.URL + '/echo');
  w.onopen = () => { console.log('open'); w.close(); };
  w.onerror = (e) => console.log('error ' + e.error);
  w.onclose = () => console.log('close');
}
"""

UNKNOWN_AUTHORITY = "tls: failed to verify certificate: x509: certificate signed by unknown authority"


@pytest.mark.parametrize("api", ["websockets", "legacy"])
def test_tls_certificates_are_verified_by_default(tmp_path, tls_files, api):
    with BadServer(tls=tls_files) as srv:
        path = script(tmp_path, TLS_SCRIPT)
        out = run(path, "-e", f"URL={srv.url}", "-e", f"API={api}", timeout=20)
        assert out.exit_code == 0
        if api == "websockets":
            assert out.console == [f"error {UNKNOWN_AUTHORITY}", "close"]
        else:
            assert out.console == ["status 0"]  # k6 v1.1: no open, status 0
        assert srv.stats("/echo").handshakes == 0


@pytest.mark.parametrize("api", ["websockets", "legacy"])
@pytest.mark.parametrize("how", ["option", "env"])
def test_insecure_skip_tls_verify_turns_it_off(tmp_path, tls_files, api, how):
    with BadServer(tls=tls_files) as srv:
        path = script(tmp_path, TLS_SCRIPT)
        args = ["-e", f"URL={srv.url}", "-e", f"API={api}"]
        env = None
        if how == "option":
            args += ["-e", "SKIP=1"]
        else:
            env = {"K6_INSECURE_SKIP_TLS_VERIFY": "true"}
        out = run(path, *args, env=env, timeout=20)
        assert out.exit_code == 0
        assert out.console == (["open", "close"] if api == "websockets" else ["open", "status 101"])
        assert srv.stats("/echo").handshakes == 1


# ---- remote modules ----------------------------------------------------------------------
class _Listener:
    """Counts TCP connections (nothing may reach it)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._loop, daemon=True).start()

    def _loop(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()


def test_remote_modules_only_over_https(tmp_path):
    lst = _Listener()
    url = f"http://127.0.0.1:{lst.port}/lib.js"
    out = run(script(tmp_path, f"import x from '{url}';\nexport default function () {{}}\n"), timeout=20)
    assert out.exit_code == 107
    (err,) = out.errors()
    assert f"only supported schemes for imports are file and https, {url} has `http`" in err
    assert lst.accepted == 0  # refused before any request
    lst.sock.close()


@pytest.mark.parametrize("spec", ["ftp://127.0.0.1/x.js", "data:text/javascript,export default 1"])
def test_other_import_schemes_are_refused(tmp_path, spec):
    out = run(script(tmp_path, f"import x from '{spec}';\nexport default function () {{}}\n"), timeout=20)
    assert out.exit_code == 107
    assert len(out.errors()) == 1


# ---- open() ------------------------------------------------------------------------------
@pytest.mark.parametrize("src, message", [
    ("export default function () { open('./data.txt'); }",
     'the "open" function is only available in the init stage'),
    ("export function setup() { open('./data.txt'); }\nexport default function () {}",
     'the "open" function is only available in the init stage'),
    ("if (__VU === 1) open('./data.txt');\nexport default function () {}",
     "open() can't be used with files that weren't previously opened during initialization (__VU==0), "
     'path: "{tmp}/data.txt"'),
    ("open('');\nexport default function () {}", "open() can't be used with an empty filename"),
    ("open('./nope.txt');\nexport default function () {}", "stat {tmp}/nope.txt: no such file or directory"),
    ("open('.');\nexport default function () {}", "open() can't be used with directories, path: \"{tmp}\""),
])
def test_open_error_paths(tmp_path, src, message):
    (tmp_path / "data.txt").write_text("SECRET-FILE-CONTENT")
    path = script(tmp_path, src.replace("{tmp}", str(tmp_path)) + "\nexport const options = { iterations: 1 };\n")
    out = run(path, timeout=20)
    assert out.exit_code == (0 if src.startswith("export default") else 107)  # an iteration error: 0
    (err,) = out.errors()
    assert err.startswith("GoError: " + message.replace("{tmp}", str(tmp_path))), err
    assert "SECRET-FILE-CONTENT" not in out.stdout + out.stderr


def test_open_reads_only_the_named_file_relative_to_its_module(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.txt").write_text("sub-x")
    (tmp_path / "x.txt").write_text("top-x")
    (tmp_path / "sub" / "m.js").write_text("export const v = open('./x.txt');\n")
    src = """
    import { v } from './sub/m.js';
    const w = open('./x.txt');
    export const options = { iterations: 1 };
    export default function () { console.log(v + ' ' + w); }
    """
    out = run(script(tmp_path, src), timeout=20)
    assert out.exit_code == 0
    assert out.console == ["sub-x top-x"]


# ---- secrets in __ENV --------------------------------------------------------------------
SECRET = "s3cr3t-T0KEN-2c9f1e"

SECRET_SCRIPT = """
import { WebSocket } from 'k6/websockets';
export const options = { iterations: 2, thresholds: { checks: ['rate>0'] } };
export function setup() { return { n: 1 }; }
export default function () {
  const ws = new WebSocket(__ENV.URL, null, { headers: { Authorization: 'Bearer ' + __ENV.TOKEN } });
  ws.onopen = () => { ws.send('x'); };
  ws.onmessage = () => ws.close();
  ws.onerror = (e) => console.log('error ' + e.error);
  if (__ITER === 1) throw new Error('failing on purpose');
}
export function handleSummary(data) {
  return { [__ENV.OUT]: JSON.stringify(data), stdout: 'done\\n' };
}
"""


@pytest.mark.parametrize("verbose", [False, True])
def test_env_secrets_never_appear_in_output(tmp_path, bad, verbose):
    path = script(tmp_path, SECRET_SCRIPT)
    summary_file = tmp_path / "summary.json"
    json_out = tmp_path / "out.json"
    args = ["-e", f"TOKEN={SECRET}", "-e", f"URL={bad.url}/echo", "-e", f"OUT={summary_file}",
            "--out", f"json={json_out}"]
    if verbose:
        args.append("-v")
    out = run(path, *args, export=True, env={"OTHER_SECRET": SECRET}, timeout=30, workers=None)
    assert out.exit_code == 0, out.stderr
    assert out.export is not None and summary_file.exists() and json_out.exists()
    for name, text in [("stdout", out.stdout), ("stderr", out.stderr),
                       ("summary-export", json.dumps(out.export)), ("handleSummary data", summary_file.read_text()),
                       ("json output", json_out.read_text())]:
        assert SECRET not in text, f"the secret leaked into {name}"
    assert "failing on purpose" in out.stderr  # errors are still reported


def test_env_secret_in_a_failing_init_is_not_printed(tmp_path):
    src = """
    const token = __ENV.TOKEN;
    if (token.length > 3) throw new Error('bad token length');
    export default function () {}
    """
    out = run(script(tmp_path, src), "-e", f"TOKEN={SECRET}", timeout=20)
    assert out.exit_code == 107
    assert SECRET not in out.stdout + out.stderr
