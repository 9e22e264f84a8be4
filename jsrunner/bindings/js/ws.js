// Module "k6/ws" (runtime.md §11): the legacy, blocking WebSocket API.
//
// ws.connect() blocks until its socket is closed: after the callback it runs a nested
// event loop for that one socket, pulling events and the socket's own timers from Python
// (`ws.wait`, bindings/ws.py) and dispatching them to the handlers registered with
// socket.on(). Like k6, every handler runs synchronously inside connect(); an exception
// from any of them closes the socket (1001, close handlers run) and propagates out of
// connect().
const K = globalThis.__k6;
const host = K.host;

const TAG_TYPES = "only String, Boolean and Number types are accepted as a metric tag values";

function goFloat(x) {
  // Go's %.2f
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  return x.toFixed(2);
}

// time.Duration(ms * float64(time.Millisecond)) must be > 0
function timerDelay(kind, ms) {
  const x = ms === undefined || ms === null ? 0 : Number(ms);
  const ns = Math.trunc(x * 1e6);
  if (!(ns > 0) || ns >= 9223372036854775807) {
    throw K.goError(kind + ' requires a >0 timeout parameter, received ' + goFloat(x));
  }
  return ns / 1e6;
}

function callable(fn) {
  if (typeof fn === 'function') return fn;
  let s;
  try { s = String(fn); } catch (_) { s = '[object Object]'; }
  throw new TypeError('could not convert function call parameter 0: could not convert ' + s + ' to sobek.Callable');
}

function toInteger(v) {
  const n = Number(v);
  if (Number.isNaN(n)) return 0;
  if (n === Infinity) return 9223372036854775807;
  if (n === -Infinity) return -9223372036854775808;
  return Math.trunc(n);
}

// The value error handlers receive: a Go error (`e.error()` returns its text); close
// errors also carry `code` and `text`, like gorilla's *websocket.CloseError.
function wsError(text) {
  const e = {};
  const m = /^websocket: close (\d+)(?: \([^)]*\))?(?:: ([\s\S]*))?$/.exec(text);
  if (m) {
    e.code = Number(m[1]);
    e.text = m[2] === undefined ? '' : m[2];
  }
  e.error = function error() { return text; };
  Object.defineProperty(e, 'toString', { value: function toString() { return text; }, enumerable: false });
  return e;
}

function parseParams(p) {
  const out = { headers: null, tags: {}, compression: null, cookie: null };
  if (p === undefined || p === null) return out;
  const params = Object(p);
  for (const k of Object.keys(params)) {
    const v = params[k];
    if (k === 'headers') {
      out.headers = {};
      if (v === undefined || v === null) continue;
      const h = Object(v);
      for (const name of Object.keys(h)) out.headers[name] = String(h[name]);
    } else if (k === 'tags') {
      if (v === undefined || v === null) continue;
      const t = Object(v);
      for (const name of Object.keys(t)) {
        const tv = t[name];
        const tt = typeof tv;
        if (tt !== 'string' && tt !== 'number' && tt !== 'boolean') {
          throw K.goError("invalid ws.connect() metric tags: invalid value for metric tag '" + name + "': " + TAG_TYPES);
        }
        out.tags[name] = String(tv);
      }
    } else if (k === 'jar') {
      out.jar = v;
    } else if (k === 'compression') {
      const algo = String(v).trim();
      if (algo === '') continue;
      if (algo !== 'deflate') {
        throw K.goError("unsupported compression algorithm '" + algo + "', supported algorithm is 'deflate'");
      }
      out.compression = 'deflate';
    }
    // any other key is ignored (unlike k6/websockets)
  }
  return out;
}

// Cookies from a jar object (an http.CookieJar-like object with cookiesForURL).
function jarCookies(jar, url) {
  if (jar === undefined || jar === null || typeof jar.cookiesForURL !== 'function') return null;
  const httpURL = url.replace(/^ws/i, 'http');
  let all;
  try { all = jar.cookiesForURL(httpURL); } catch (_) { return null; }
  if (!all || typeof all !== 'object') return null;
  const parts = [];
  for (const name of Object.keys(all)) {
    const vals = Array.isArray(all[name]) ? all[name] : [all[name]];
    for (const v of vals) parts.push(name + '=' + String(v));
  }
  return parts.length ? parts.join('; ') : null;
}

export function connect(url, ...args) {
  if (K.phase === 'init') throw K.goError('using websockets in the init context is not supported');
  let paramsV;
  let cb;
  if (args.length === 2) {
    paramsV = args[0];
    cb = args[1];
  } else if (args.length === 1) {
    cb = args[0];
  } else {
    throw K.goError('invalid number of arguments to ws.connect');
  }
  if (typeof cb !== 'function') throw K.goError('last argument to ws.connect must be a function');
  url = String(url);
  const params = parseParams(paramsV);
  const tags = Object.assign({}, K.tags, params.tags);
  const cookie = jarCookies(params.jar, url);

  K.flush(); // hand queued samples and timer ops over before blocking
  const r = host('ws.connect', url, params.headers, tags, params.compression, cookie, K.metadata);
  if (r[0] === 'int') throw K.abortSignal; // the iteration is being interrupted
  if (r[0] !== 'ok') {
    // ['fail', error, status, headers, body, hadResponse]
    if (K.throwMode) throw K.goError(r[1]);
    return { url: '', status: r[2], headers: r[3], body: r[4], error: r[5] ? '' : r[1] };
  }
  const sid = r[1];
  const response = { url: url, status: r[2], headers: r[3], body: '', error: '' };

  const handlers = new Map();
  const timers = new Map();
  let shut = false;
  let interrupted = false;

  function dispatch(event, arg) {
    const list = handlers.get(event);
    if (list === undefined) return;
    const snapshot = list.slice();
    for (let i = 0; i < snapshot.length; i++) {
      if (arg === undefined) snapshot[i].call(undefined);
      else snapshot[i].call(undefined, arg);
    }
  }

  // k6's closeConnection: once; send Close(code), then the close handlers with the code
  function shutdown(code) {
    if (shut) return;
    shut = true;
    timers.clear();
    host('ws.close', sid, code);
    dispatch('close', code);
  }

  function addTimer(kind, fn, ms, repeat) {
    fn = callable(fn);
    const delay = timerDelay(kind, ms);
    if (shut) return;
    const id = host('ws.timer', sid, delay, repeat);
    if (id) timers.set(id, [fn, repeat]);
  }

  const socket = {
    close: function close() {
      shutdown(arguments.length > 0 ? toInteger(arguments[0]) : 1001);
    },
    on: function on(event, handler) {
      if (typeof handler !== 'function') return;
      const key = String(event);
      let list = handlers.get(key);
      if (list === undefined) { list = []; handlers.set(key, list); }
      list.push(handler);
    },
    ping: function ping() {
      const err = host('ws.ping', sid);
      if (err) dispatch('error', wsError(err));
    },
    send: function send(message) {
      const err = host('ws.send', sid, String(message), null);
      if (err) dispatch('error', wsError(err));
    },
    sendBinary: function sendBinary(message) {
      if (arguments.length === 0) throw K.goError('missing argument, expected ArrayBuffer');
      if (!(message instanceof ArrayBuffer)) {
        const type = message === undefined || message === null
          ? String(message) : Object.prototype.toString.call(message).slice(8, -1);
        throw K.goError('expected ArrayBuffer as argument, received: ' + type);
      }
      const err = host('ws.send', sid, null, K.b64(new Uint8Array(message)));
      if (err) dispatch('error', wsError(err));
    },
    setInterval: function setInterval(fn, intervalMs) { addTimer('setInterval', fn, intervalMs, true); },
    setTimeout: function setTimeout(fn, timeoutMs) { addTimer('setTimeout', fn, timeoutMs, false); },
  };

  try {
    try {
      cb.call(undefined, socket);
      dispatch('open'); // even after close() in the callback, as in k6
      while (!shut) {
        K.flush();
        const ev = host('ws.wait', sid);
        switch (ev[0]) {
          case 'm': dispatch('message', ev[1]); break;
          case 'b': dispatch('binaryMessage', K.unb64(ev[1])); break;
          case 'p': dispatch('ping'); break;
          case 'P': dispatch('pong'); break;
          case 'e': dispatch('error', wsError(ev[1])); break;
          case 'c': shutdown(ev[1]); break;
          case 't': {
            const t = timers.get(ev[1]);
            if (t === undefined) break;
            if (!t[1]) timers.delete(ev[1]);
            t[0].call(undefined);
            break;
          }
          default: // 'x': interrupted from outside, or the connection is gone
            shut = true;
            timers.clear();
            if (ev[1]) interrupted = true;
        }
      }
    } catch (e) {
      shutdown(1001); // may throw from a close handler: that exception wins, as in k6
      throw e;
    }
  } finally {
    host('ws.end', sid);
  }
  if (interrupted) throw K.abortSignal; // unwind the interrupted iteration, nothing logged
  return response;
}

export default { connect };
