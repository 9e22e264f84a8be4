// Module "k6/data": SharedArray.
//
// `new SharedArray(name, fn)` (init context only) runs `fn` once per run; its elements
// are kept in Python as JSON texts (bindings/data.py) and every VU receives that list.
// The result is a read-only array-like, as in k6:
// - Array.isArray() is true, Array.prototype methods work (map/filter/... return plain
//   arrays), `length`, index access, for..of, spread, JSON.stringify;
// - every read of an element parses its JSON anew and deep-freezes the copy, so
//   `a[0].x = 1` throws a TypeError in strict code (ES modules are strict) and is ignored
//   in sloppy code; `a[0] !== a[0]` for objects (k6 behaves the same);
// - any write to the array itself (index, length, push, delete, defineProperty) throws
//   TypeError "SharedArray is immutable", like k6.
// Memory: each VU keeps only the element strings (see data.py).
const K = globalThis.__k6;
const host = K.host;

const IMMUTABLE = 'SharedArray is immutable';
const INDEX = /^(?:0|[1-9][0-9]*)$/;

// Init context = the main module is still being evaluated. (`K.phase` is checked too; the
// namespace test covers runtimes where the phase is not updated after init.)
function inInitContext() {
  return K.phase === 'init' && !K.main;
}

function isAsyncFunction(v) {
  if (v === undefined || v === null) return false;
  try {
    const c = Object(v).constructor;
    return !!c && c.name === 'AsyncFunction';
  } catch (_) {
    return false;
  }
}

function deepFreeze(v) {
  if (v === null || typeof v !== 'object') return v;
  Object.freeze(v);
  for (const key of Object.keys(v)) {
    const child = v[key];
    if (child !== null && typeof child === 'object' && !Object.isFrozen(child)) deepFreeze(child);
  }
  return v;
}

// fn() -> element JSON texts (an element JSON.stringify cannot represent becomes the text
// "undefined", which throws a SyntaxError when read - k6 does the same).
function build(fn) {
  const r = fn.call(undefined);
  if (r === undefined || r === null) throw new TypeError('Cannot convert undefined or null to object');
  if (!Array.isArray(r)) throw K.goError('only arrays can be made into SharedArray');
  const n = Math.max(0, Math.trunc(Number(r.length)) || 0);
  const items = new Array(n);
  for (let i = 0; i < n; i++) {
    const s = JSON.stringify(r[i]);
    items[i] = s === undefined ? 'undefined' : s;
  }
  return items;
}

function immutable() {
  throw new TypeError(IMMUTABLE);
}

function view(items) {
  const n = items.length;
  const target = [];
  target.length = n; // keeps the proxy's `length` consistent with its target
  const indexOf = (key) => {
    if (typeof key !== 'string' || !INDEX.test(key)) return -1;
    const i = Number(key);
    return i < n ? i : -1;
  };
  const read = (i) => deepFreeze(JSON.parse(items[i]));
  return new Proxy(target, {
    get(t, key) {
      const i = indexOf(key);
      if (i !== -1) return read(i);
      if (key === 'length') return n;
      return Reflect.get(t, key);
    },
    has(t, key) {
      return indexOf(key) !== -1 || Reflect.has(t, key);
    },
    getOwnPropertyDescriptor(t, key) {
      const i = indexOf(key);
      if (i !== -1) return { value: read(i), writable: false, enumerable: true, configurable: true };
      return Reflect.getOwnPropertyDescriptor(t, key);
    },
    ownKeys(t) {
      const keys = new Array(n);
      for (let i = 0; i < n; i++) keys[i] = String(i);
      return keys.concat(Reflect.ownKeys(t));
    },
    set: immutable,
    defineProperty: immutable,
    deleteProperty: immutable,
    setPrototypeOf: immutable,
    preventExtensions: immutable,
  });
}

export function SharedArray(name, fn) {
  if (!inInitContext()) throw K.goError('new SharedArray must be called in the init context');
  name = String(name);
  if (name === '') throw K.goError("empty name provided to SharedArray's constructor");
  if (isAsyncFunction(fn)) throw K.goError('SharedArray constructor does not support async functions as second argument');
  if (typeof fn !== 'function') throw K.goError("a function is expected as the second argument of SharedArray's constructor");
  let items = host('data.acquire', name);
  if (items === null || items === undefined) { // (dukpy turns None into undefined)
    let stored = false;
    try {
      items = build(fn);
      host('data.store', name, items);
      stored = true;
    } finally {
      if (!stored) host('data.release', name);
    }
  }
  return view(items);
}

export default { SharedArray };
