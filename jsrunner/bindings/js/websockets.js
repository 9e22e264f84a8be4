// Modules "k6/websockets" and "k6/experimental/websockets": WebSocket and Blob
// (shared/spec/websockets.md). Connections live in Python (bindings/websockets.py); their
// events reach onBatch() in batches through the VU loop (K.on('wss', ...)).
//
// Cost per VU: every VU compiles this module into its own runtime (~2 ms for 10 KB here),
// and QuickJS keeps each function's source text beside its bytecode. So the code is flat
// (no big nested closures) and what many scripts never touch (params and cookies, Blob
// internals, UTF-8, Go type names for error texts) is compiled on first use from source kept
// in Python (wss.lazy).
const K = globalThis.__k6;
const host = K.host;
const goError = K.goError;

// One implementation per VU runtime even when a script imports both module paths (one
// socket registry, one Blob class).
const api = K.websocketsApi || (K.websocketsApi = { WebSocket, Blob });
const WS = api.WebSocket;
const B = api.Blob;
export { WS as WebSocket, B as Blob };
export default { WebSocket: WS, Blob: B };
if (api.WebSocket === WebSocket && K.hiddenFrames) {
  K.hiddenFrames.push('k6/websockets:', 'k6/experimental/websockets:'); // dispatch machinery
}

let X = null;
function ext() {
  if (X === null) X = (0, eval)(host('wss.lazy'))(K, Blob);
  return X;
}

// ---- Blob (websockets.md §7) ---------------------------------------------------------------
// A Blob here *is* an ArrayBuffer whose prototype chain is Blob.prototype -> ArrayBuffer.prototype,
// carrying the Blob API as own properties. Reason: binaryType defaults to "blob" since k6
// v0.54, while scripts written for the seed era (binaryType "ArrayBuffer", no Blob) do
// `new Uint8Array(e.data)`, `e.data.byteLength` or `new DataView(e.data)` on binary messages.
// Such a value is `instanceof Blob` with size/type/arrayBuffer()/bytes()/text()/slice()/
// stream(), and every ArrayBuffer consumer (typed arrays, DataView, ws.send) takes it as is,
// without a copy. Blob's slice() shadows ArrayBuffer's (web semantics, returns a Blob).
function Blob(parts, options) {
  if (new.target === undefined) throw new TypeError("Class constructor Blob cannot be invoked without 'new'");
  const r = ext().make(parts, options, new.target);
  if (typeof r === 'string') throw goError(r);
  return r;
}
Blob.prototype = Object.create(ArrayBuffer.prototype, {
  constructor: { value: Blob, writable: true, configurable: true },
  [Symbol.toStringTag]: { value: 'Blob', configurable: true },
});

// ---- sockets --------------------------------------------------------------------------------
const OPEN = 0, MESSAGE = 1, ERROR = 2, CLOSE = 3, PING = 4, PONG = 5;
const TYPES = { open: OPEN, message: MESSAGE, error: ERROR, close: CLOSE, ping: PING, pong: PONG };
const socks = new Map(); // sid -> socket state S
const states = new WeakMap(); // ws object -> S (for the shared accessors)
const EPOCH_OFFSET = Date.now() - K.clock(); // event timestamps: Unix ms with a fraction
let thrown; // the exception of the last handler that threw (see call())
const NO_PARAMS = { headers: null, tags: null, jar: undefined, compression: null };

function WebSocket(url, protocols, params) {
  if (url === undefined || url === null) throw goError('WebSocket requires a url');
  const parsed = host('wss.url', String(url)); // ['ok', href, dialError|null] | ['err', message]
  if (parsed[0] === 'err') throw goError(parsed[1]);
  if (K.phase === 'init') throw goError('using websockets in the init context is not supported');
  const href = parsed[1];
  let protos = null;
  if (typeof protocols === 'string') protos = [protocols];
  else if (Array.isArray(protocols)) protos = protocols.map(String);
  const p = params === undefined ? NO_PARAMS : ext().params(params); // returns an error text or the options
  if (typeof p === 'string') throw goError(p);
  const cookies = parsed[2] || (p.jar === undefined && typeof K.vuCookieJar !== 'function') ? null
    : ext().cookies(p.jar === undefined ? K.vuCookieJar() : p.jar, 'http' + href.slice(2));
  const r = host('wss.open', {
    url: href, protocols: protos, headers: p.headers, cookies: cookies, compression: p.compression,
    tags: p.tags ? Object.assign({}, K.tags, p.tags) : K.tags, metadata: K.metadata, fail: parsed[2],
  });
  if (r[1]) { for (const old of socks.values()) old.done = true; socks.clear(); } // left by an interrupted phase
  const ws = {};
  const S = {
    id: r[0], ws: ws, url: href, rs: 0, bt: 'blob', proto: '', ext: [], buffered: 0, done: false,
    on: [null, null, null, null, null, null], ls: [[], [], [], [], [], []],
  };
  // k6's order and flags: methods and url are read-only data properties, the rest accessors
  Object.defineProperties(ws, {
    addEventListener: { value: (type, handler) => addListener(S, type, handler), enumerable: true },
    send: { value: (data) => send(S, data), enumerable: true },
    ping: { value: () => ping(S), enumerable: true },
    close: { value: (code, reason) => close(S, code, reason), enumerable: true },
    url: { value: href, enumerable: true },
  });
  Object.defineProperties(ws, ACCESSORS);
  states.set(ws, S);
  socks.set(S.id, S);
  K.ref();
  K.on('wss', onBatch);
  return ws;
}

function st(ws) {
  const S = states.get(ws);
  if (S === undefined) throw new TypeError('Illegal invocation');
  return S;
}
function onAccessor(t, name) {
  return {
    get() { return st(this).on[t]; },
    set(v) {
      const S = st(this);
      if (v === undefined || v === null) S.on[t] = null;
      else if (typeof v !== 'function') throw goError("a value for '" + name + "' should be callable");
      else S.on[t] = v;
    },
    enumerable: true,
  };
}
const ACCESSORS = {
  readyState: { get() { return st(this).rs; }, enumerable: true },
  bufferedAmount: {
    get() { const S = st(this); return S.done ? S.buffered : host('wss.buf', S.id); },
    enumerable: true,
  },
  extensions: { get() { return st(this).ext.slice(); }, enumerable: true },
  protocol: { get() { return st(this).proto; }, enumerable: true },
  binaryType: {
    get() { return st(this).bt; },
    set(v) {
      const s = String(v);
      if (s !== 'blob' && s !== 'arraybuffer') throw goError('unknown binaryType ' + s + ', the supported ones are "blob" and "arraybuffer"');
      st(this).bt = s;
    },
    enumerable: true,
  },
  onmessage: onAccessor(MESSAGE, 'onmessage'),
  onerror: onAccessor(ERROR, 'onerror'),
  onopen: onAccessor(OPEN, 'onopen'),
  onclose: onAccessor(CLOSE, 'onclose'),
  onping: onAccessor(PING, 'onping'),
  onpong: onAccessor(PONG, 'onpong'),
  // k6's on<event> getters return (unusable) functions, which JSON.stringify leaves out;
  // ours return the handler or null, so k6's JSON shape is kept explicitly.
  toJSON: {
    value: function toJSON() {
      const S = st(this);
      return { url: S.url, readyState: S.rs, bufferedAmount: this.bufferedAmount, extensions: S.ext.slice(),
               protocol: S.proto, binaryType: S.bt };
    },
  },
};

function addListener(S, type, handler) {
  if (handler !== undefined && handler !== null && typeof handler !== 'function') {
    let s;
    try { s = String(handler); } catch (_) { s = '[object Object]'; }
    throw new TypeError('could not convert function call parameter 1: could not convert ' + s +
      ' to func(sobek.Value) (sobek.Value, error)');
  }
  const t = String(type);
  if (handler === undefined || handler === null) throw goError('handler for event type "' + t + '" isn\'t a callable function');
  const i = Object.prototype.hasOwnProperty.call(TYPES, t) ? TYPES[t] : -1;
  if (i < 0) { K.warn("can't add event handler: unknown event type: " + t); return; }
  S.ls[i].push(handler);
}

function send(S, data) {
  if (S.rs !== 1) throw goError('InvalidStateError');
  let r;
  if (typeof data === 'string') r = host('wss.send', S.id, data);
  else if (data instanceof ArrayBuffer) r = host('wss.sendb', S.id, K.b64(new Uint8Array(data)));
  else if (ArrayBuffer.isView(data)) r = host('wss.sendb', S.id, K.b64(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
  else throw goError('unsupported send type ' + ext().goType(data));
  if (r) throw goError(r);
}

function ping(S) {
  if (S.rs !== 1) throw goError('InvalidStateError');
  const r = host('wss.ping', S.id);
  if (r) throw goError(r);
}

function close(S, code, reason) {
  if (S.rs === 2 || S.rs === 3) return;
  let c = code === undefined || code === null ? 0 : Math.trunc(Number(code));
  if (!Number.isFinite(c)) c = 0;
  const r = host('wss.close', S.id, c, reason === undefined || reason === null ? '' : String(reason));
  if (r) throw goError(r);
  S.rs = 2;
}

// ---- dispatch ---------------------------------------------------------------------------------
function rejected(e) { K.fail(e, true); }

// Call one handler (`this` undefined); true when it threw (the exception is in `thrown`).
// An async handler's rejection fails the iteration like any unhandled rejection.
function call(fn, ev) {
  try {
    const r = fn(ev);
    if (r !== null && typeof r === 'object' && typeof r.then === 'function') r.then(undefined, rejected);
    return false;
  } catch (e) {
    if (e === K.abortSignal) throw e; // exec.test.abort(): nothing more runs
    thrown = e;
    return true;
  }
}

// The on<event> handler first, then the listeners in registration order (a snapshot:
// listeners added meanwhile wait for the next event). message/error events are one object
// for all handlers (`ev`); open/ping/pong/close get a fresh one each (`ev` null), as in k6.
function fire(S, t, ev, a, b) {
  const on = S.on[t];
  const list = S.ls[t];
  const n = list.length;
  if (on !== null && call(on, ev || event(S, t, a, b))) return true;
  for (let i = 0; i < n; i++) if (call(list[i], ev || event(S, t, a, b))) return true;
  return false;
}

function event(S, t, a, b) {
  const ts = K.clock() + EPOCH_OFFSET;
  const ws = S.ws;
  switch (t) {
    case OPEN: return { get type() { return 'open'; }, get target() { return ws; }, get timestamp() { return ts; } };
    case PING: return { get type() { return 'ping'; }, get target() { return ws; }, get timestamp() { return ts; } };
    case PONG: return { get type() { return 'pong'; }, get target() { return ws; }, get timestamp() { return ts; } };
    case ERROR: {
      const e = { get type() { return 'error'; }, get target() { return ws; }, get timestamp() { return ts; } };
      return Object.defineProperty(e, 'error', { value: a, enumerable: true, configurable: true });
    }
    default: { // close: code (when known), reason
      const e = { get type() { return 'close'; }, get target() { return ws; }, get timestamp() { return ts; } };
      if (a !== null && a !== undefined) Object.defineProperty(e, 'code', { value: a, enumerable: true, configurable: true });
      return Object.defineProperty(e, 'reason', { value: b, enumerable: true, configurable: true });
    }
  }
}

function finish(S) {
  if (S.done) return;
  S.done = true;
  S.rs = 3;
  socks.delete(S.id);
  K.unref();
}

// §4.5: an open/message handler threw. The connection is dropped (no Close frame), `error`
// (the exception text) and `close` fire, and the iteration fails with that exception.
function handlerThrew(S, e) {
  S.buffered = host('wss.drop', S.id);
  S.rs = 3;
  K.fail(e, false);
  if (!fire(S, ERROR, event(S, ERROR, K.errorInline(e)))) fire(S, CLOSE, null, null, '');
  finish(S);
}

// Batch items (see bindings/websockets.py): [sid, 0, protocol, extensions] open,
// [sid, 1|2, text|base64, tsUs] message, [sid, 3, error] error,
// [sid, 4, code, reason, protocol, extensions, bufferedAmount] close, [sid, 5] ping, [sid, 6] pong.
// `wss.ack` tells Python which accepted messages were not dispatched after all (close() or a
// failure earlier in the batch: their ws_msgs_received samples are dropped); it also follows
// a batch with a `close`, so a socket's last samples are pushed before the iteration can end.
// Otherwise Python pushes them when it prepares the next batch.
function onBatch(batch) {
  let skipped = null;
  let mustAck = false;
  try {
    for (let i = 0; i < batch.length; i++) {
      const ev = batch[i];
      const kind = ev[1];
      const S = socks.get(ev[0]);
      if (S === undefined || S.done) {
        if (kind === 1 || kind === 2) (skipped || (skipped = [])).push(i);
        continue;
      }
      switch (kind) {
        case 1: case 2: { // message: only while OPEN, not once the iteration failed
          if (S.rs !== 1 || K.failing) { (skipped || (skipped = [])).push(i); break; }
          let data = ev[2];
          if (kind === 2) {
            data = K.unb64(data);
            if (S.bt === 'blob') data = ext().toBlob(data);
          }
          const ts = ev[3] / 1000;
          const ws = S.ws;
          const e = { get type() { return 'message'; }, get target() { return ws; }, get timestamp() { return ts; },
                      data: data, origin: S.url };
          if (fire(S, MESSAGE, e)) handlerThrew(S, thrown);
          break;
        }
        case 0: // open
          if (S.rs !== 0 || K.failing) break;
          S.rs = 1;
          S.proto = ev[2];
          S.ext = ev[3];
          if (fire(S, OPEN, null)) handlerThrew(S, thrown);
          break;
        case 3: // error; if a handler throws, the close handlers do not run (§4.5)
          S.rs = 3;
          if (fire(S, ERROR, event(S, ERROR, ev[2]))) {
            K.fail(thrown, false);
            S.buffered = 0;
            finish(S);
          }
          break;
        case 4: // close
          mustAck = true;
          S.rs = 3;
          S.proto = ev[4];
          S.ext = ev[5];
          S.buffered = ev[6];
          if (fire(S, CLOSE, null, ev[2], ev[3])) K.fail(thrown, false);
          finish(S);
          break;
        case 5: // ping
          if (fire(S, PING, null)) K.fail(thrown, false);
          break;
        case 6: // pong
          if (fire(S, PONG, null)) K.fail(thrown, false);
          break;
      }
    }
  } finally {
    if (mustAck || skipped !== null) host('wss.ack', skipped);
  }
}
