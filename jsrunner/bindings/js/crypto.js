// Module "k6/crypto": hash functions, HMAC, Hasher objects, randomBytes, hexEncode.
//
// Digests are computed by Python's hashlib (bindings/crypto.py), one host call each. A
// Hasher keeps its chunks here and sends them all on digest(), so the Python side holds
// no per-Hasher state. Inputs are strings (hashed as UTF-8), ArrayBuffers or any
// ArrayBuffer view (its bytes; k6 itself takes Uint8Array but no other view - accepting
// them all is a deliberate superset). Bytes cross as latin-1 strings (see encoding.py).
const K = globalThis.__k6;
const host = K.host;

const ALGORITHMS = ['md4', 'md5', 'sha1', 'sha256', 'sha384', 'sha512', 'sha512_224', 'sha512_256', 'ripemd160'];
const ENCODINGS = ['hex', 'base64', 'base64url', 'base64rawurl', 'binary'];

const latin1 = K.latin1;
const unlatin1 = K.unlatin1;
const goType = K.goType;

function viewBytes(v) {
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return null;
}

// Tagged bytes for Python: ['s', text] or ['b', latin1]; throws k6's text otherwise.
function bytesArg(v, prefix) {
  if (typeof v === 'string') return ['s', v];
  const u8 = viewBytes(v);
  if (u8 !== null) return ['b', latin1(u8)];
  throw K.goError(prefix + 'invalid type ' + goType(v) + ', expected string, []byte or ArrayBuffer');
}

function goString(v) {
  return v === undefined || v === null ? '' : String(v);
}

function checkAlgorithm(alg) {
  if (ALGORITHMS.indexOf(alg) === -1) throw K.goError('invalid algorithm: ' + alg);
}

function outputEncoding(enc) {
  const e = goString(enc);
  if (ENCODINGS.indexOf(e) === -1) throw K.goError('invalid output encoding: ' + e);
  return e;
}

function digestOf(alg, key, chunks, enc) {
  const out = host('crypto.digest', alg, key, chunks, enc);
  return enc === 'binary' ? unlatin1(out) : out;
}

function isHighSurrogate(c) { return c >= 0xd800 && c <= 0xdbff; }

// ---- Hasher ---------------------------------------------------------------------------
const state = new WeakMap();

// Not exported and not constructible from scripts (createHash / createHMAC make them).
class Hasher {
  update(input) {
    const s = state.get(this);
    if (s === undefined) throw new TypeError('Illegal invocation');
    const arg = bytesArg(input, '');
    const chunks = s.chunks;
    const last = chunks.length ? chunks[chunks.length - 1] : null;
    // merge neighbours of the same kind so digest() sends few chunks (never glue two
    // halves of a surrogate pair: Go converts each update's string on its own)
    if (last !== null && last[0] === arg[0] && last[1].length < 65536 &&
        !(arg[0] === 's' && isHighSurrogate(last[1].charCodeAt(last[1].length - 1)))) last[1] += arg[1];
    else chunks.push(arg);
  }

  digest(outputEncodingName) {
    const s = state.get(this);
    if (s === undefined) throw new TypeError('Illegal invocation');
    const enc = outputEncoding(outputEncodingName);
    return digestOf(s.alg, s.key, s.chunks, enc);
  }
}
const hasherPrototype = Hasher.prototype;

function newHasher(alg, key) {
  const h = Object.create(hasherPrototype);
  state.set(h, { alg, key, chunks: [] });
  return h;
}

export function createHash(algorithm) {
  const alg = goString(algorithm);
  checkAlgorithm(alg); // (k6 itself panics on an unknown name)
  return newHasher(alg, null);
}

export function createHMAC(algorithm, secret) {
  const alg = goString(algorithm);
  checkAlgorithm(alg);
  return newHasher(alg, bytesArg(secret, ''));
}

export function hmac(algorithm, secret, data, outputEncodingName) {
  const alg = goString(algorithm);
  checkAlgorithm(alg);
  const key = bytesArg(secret, '');
  const input = bytesArg(data, '');
  const enc = outputEncoding(outputEncodingName);
  return digestOf(alg, key, [input], enc);
}

function hashOf(alg, input, enc) {
  const arg = bytesArg(input, alg + ' failed: ');
  return digestOf(alg, null, [arg], outputEncoding(enc));
}

export function md4(input, outputEncodingName) { return hashOf('md4', input, outputEncodingName); }
export function md5(input, outputEncodingName) { return hashOf('md5', input, outputEncodingName); }
export function sha1(input, outputEncodingName) { return hashOf('sha1', input, outputEncodingName); }
export function sha256(input, outputEncodingName) { return hashOf('sha256', input, outputEncodingName); }
export function sha384(input, outputEncodingName) { return hashOf('sha384', input, outputEncodingName); }
export function sha512(input, outputEncodingName) { return hashOf('sha512', input, outputEncodingName); }
export function sha512_224(input, outputEncodingName) { return hashOf('sha512_224', input, outputEncodingName); }
export function sha512_256(input, outputEncodingName) { return hashOf('sha512_256', input, outputEncodingName); }
export function ripemd160(input, outputEncodingName) { return hashOf('ripemd160', input, outputEncodingName); }

// randomBytes(size): `size` converted like a Go int parameter (truncated); < 1 is an error.
const MAX_RANDOM = 1 << 30;
export function randomBytes(size) {
  let n = Number(size);
  n = Number.isNaN(n) ? 0 : Math.trunc(n);
  if (n < 1) throw K.goError('invalid size');
  if (n > MAX_RANDOM) throw K.goError('invalid size: ' + n + ' bytes is more than jsrunner allows (' + MAX_RANDOM + ')');
  return unlatin1(host('crypto.randomBytes', n));
}

const HEX = [];
for (let i = 0; i < 256; i++) HEX.push((i < 16 ? '0' : '') + i.toString(16));

export function hexEncode(data) {
  if (typeof data === 'string') return host('crypto.hex', data);
  const u8 = viewBytes(data);
  if (u8 === null) throw K.goError('invalid type ' + goType(data) + ', expected string, []byte or ArrayBuffer');
  const parts = new Array(u8.length);
  for (let i = 0; i < u8.length; i++) parts[i] = HEX[u8[i]];
  return parts.join('');
}

export default {
  createHash, createHMAC, hmac, md4, md5, sha1, sha256, sha384, sha512, sha512_224, sha512_256,
  ripemd160, randomBytes, hexEncode,
};
