// Module "k6/encoding": b64encode / b64decode (runtime.md §10).
//
// The base64 work is done by Python (bindings/encoding.py) with Go's exact rules; this
// shim only converts arguments. Bytes cross as latin-1 strings (one char per byte), which
// QuickJS builds and reads with native loops; see encoding.py for the details.
const K = globalThis.__k6;
const host = K.host;

const CHUNK = 8192;

// Uint8Array -> latin-1 string
function latin1(u8) {
  if (u8.length <= CHUNK) return String.fromCharCode.apply(null, u8);
  const parts = [];
  for (let i = 0; i < u8.length; i += CHUNK) parts.push(String.fromCharCode.apply(null, u8.subarray(i, i + CHUNK)));
  return parts.join('');
}

// latin-1 string -> ArrayBuffer
function unlatin1(s) {
  const n = s.length;
  const u8 = new Uint8Array(n);
  for (let i = 0; i < n; i++) u8[i] = s.charCodeAt(i);
  return u8.buffer;
}

// The Go type name k6 reports for a value it cannot turn into bytes (`%T` of the export).
function goType(v) {
  if (v === undefined || v === null) return '<nil>';
  switch (typeof v) {
    case 'number': return Number.isSafeInteger(v) && !Object.is(v, -0) ? 'int64' : 'float64';
    case 'boolean': return 'bool';
    case 'bigint': return '*big.Int';
    case 'symbol': return '*sobek.Symbol';
    case 'function': return 'func(sobek.FunctionCall) sobek.Value';
    default: break;
  }
  if (Array.isArray(v)) return '[]interface {}';
  if (v instanceof Date) return 'time.Time';
  if (v instanceof Promise) return '*sobek.Promise';
  return 'map[string]interface {}';
}

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
