// Module "k6/encoding": b64encode / b64decode (runtime.md §10).
//
// The base64 work is done by Python (bindings/encoding.py) with Go's exact rules; this
// shim only converts arguments. Bytes cross as latin-1 strings (one char per byte), which
// QuickJS builds and reads with native loops; see encoding.py for the details.
const K = globalThis.__k6;
const host = K.host;

const latin1 = K.latin1;
const unlatin1 = K.unlatin1;
const goType = K.goType;

// A string, ArrayBuffer or any ArrayBuffer view, tagged for Python; null for anything else.
function bytesArg(v) {
  if (typeof v === 'string') return ['s', v];
  if (v instanceof ArrayBuffer) return ['b', latin1(new Uint8Array(v))];
  if (ArrayBuffer.isView(v)) return ['b', latin1(new Uint8Array(v.buffer, v.byteOffset, v.byteLength))];
  return null;
}

// Go string parameters: undefined/null become "", anything else its String().
function goString(v) {
  return v === undefined || v === null ? '' : String(v);
}

export function b64encode(input, encoding) {
  const arg = bytesArg(input);
  if (arg === null) throw K.goError('invalid type ' + goType(input) + ', expected string, []byte or ArrayBuffer');
  return host('encoding.b64encode', arg, goString(encoding));
}

export function b64decode(input, encoding, format) {
  const fmt = goString(format);
  const r = host('encoding.b64decode', goString(input), goString(encoding), fmt);
  if (r[0] === 'err') throw K.goError(r[1]);
  return fmt === 's' ? r[1] : unlatin1(r[1]);
}

export default { b64encode, b64decode };
