// jsrunner VU runtime: evaluated once per JS runtime, before any module.
//
// The VU's event loop lives here, inside one long eval: it pulls one command at a time
// from Python through call_python('L', ops, samples) and dispatches it. Between two
// commands Python checks the QuickJS job queue and answers 0 ("jobs pending") until every
// microtask queued by the last callback has run, so promise chains of any length finish
// before the next timer or socket event, as in k6. Work that only Python can do (timer
// scheduling, metric samples) is batched in `ops`/`samples` and rides along on the next
// poll, so a setTimeout or metric.add costs no host call of its own.
;(function () {
  'use strict';
  const host = globalThis.call_python;
  const K = {};
  Object.defineProperty(globalThis, '__k6', { value: K, enumerable: false });
  if (typeof globalThis.global === 'undefined') {
    Object.defineProperty(globalThis, 'global', { value: globalThis, writable: true, configurable: true });
  }
  // k6 has a CommonJS require(); jsrunner has no CommonJS loader, and the one dukpy used to
  // install could not find any module either: same global, same error.
  globalThis.require = function require(id) { throw new Error('cannot find module: ' + id); };

  // Words the engine lets JS read without a host call (engine.py _expose_state): the
  // runtime's job list head, dukpy's pending-rejection pointer and Python's flags
  // (interrupt; the job list head's own address). Without the job list view (its place
  // in QuickJS's runtime could not be found) `busy` asks Python.
  const G = globalThis;
  const jobsWords = G.__jsrunner_jobs ? new Uint32Array(G.__jsrunner_jobs) : null;
  const rejWords = G.__jsrunner_rejection ? new Uint32Array(G.__jsrunner_rejection) : null;
  const flagWords = G.__jsrunner_flags ? new Uint32Array(G.__jsrunner_flags) : null;
  delete G.__jsrunner_jobs; delete G.__jsrunner_rejection; delete G.__jsrunner_flags;
  const headLo = flagWords ? flagWords[2] : 0, headHi = flagWords ? flagWords[3] : 0;
  // promise jobs are queued (the list head's `next` is not the head itself)
  const jobsPending = jobsWords !== null
    ? () => jobsWords[2] !== headLo || jobsWords[3] !== headHi
    : null;
  // true when the previous iteration is not over or must not be followed by another one:
  // jobs queued, an unhandled rejection recorded, or the VU interrupted
  const busy = (jobsPending !== null && rejWords !== null)
    ? () => jobsPending() || rejWords[0] !== 0 || rejWords[1] !== 0 || flagWords[0] !== 0
    : (k) => !!host('J', k);

  let ops = [];
  let samples = [];
  const clock = () => performance.timeOrigin + performance.now();
  K.clock = clock;
  K.host = host;
  K.op = (op) => { ops.push(op); };

  // ---- errors -------------------------------------------------------------------------
  function goError(message) {
    const e = new Error(message);
    e.name = 'GoError';
    return e;
  }
  K.goError = goError;

  // Location prefixes of shim frames that k6 would not show (a shim dispatching callbacks
  // registers its module ids here, e.g. '(k6/websockets:').
  K.hiddenFrames = [];
  function hiddenFrame(line) {
    const h = K.hiddenFrames;
    for (let i = 0; i < h.length; i++) if (line.indexOf(h[i]) !== -1) return true;
    return false;
  }

  function frames(stack) {
    if (typeof stack !== 'string') return '';
    let out = '';
    for (const raw of stack.split('\n')) {
      const line = raw.trim();
      if (!line.startsWith('at ')) continue;
      // our own shims and the built-in modules' JS (k6 shows no frames for its Go code)
      if (line.indexOf('://') === -1 || line.indexOf('jsrunner:') !== -1) continue;
      if (hiddenFrame(line)) continue;
      let body = line.slice(3);
      const m = /^<anonymous> \((.*)\)$/.exec(body) || /^<eval> \((.*)\)$/.exec(body);
      if (m) body = m[1];
      out += '\tat ' + body + '\n';
    }
    return out;
  }

  // The text k6 logs for an uncaught exception: "<String(e)>\n\tat frame\n...".
  function errorText(e) {
    if (e !== null && typeof e === 'object' && typeof e.stack === 'string') {
      let head;
      try { head = String(e); } catch (_) { head = '[object Object]'; }
      return head + '\n' + frames(e.stack);
    }
    try { return String(e) + '\n'; } catch (_) { return '[object Object]\n'; }
  }
  K.errorText = errorText;
  // Shorter form used inside WebSocket error events: "Error: boom at file:///x.js:7:1".
  K.errorInline = function (e) {
    const text = errorText(e);
    const nl = text.indexOf('\n');
    const head = nl === -1 ? text : text.slice(0, nl);
    const m = /\tat (?:[^(\n]* \()?([^)\n]*)\)?/.exec(text);
    return m ? head + ' at ' + m[1] : head;
  };

  // ---- console ------------------------------------------------------------------------
  function fmtArg(v) {
    if (typeof v === 'string') return v;
    if (typeof v === 'function') return 'null';
    if (v === null || typeof v !== 'object') {
      try { return String(v); } catch (_) { return ''; }
    }
    try {
      const s = JSON.stringify(v);
      return s === undefined ? String(v) : s;
    } catch (_) {
      try { return String(v); } catch (__) { return '[object Object]'; }
    }
  }
  function logger(level) {
    return function () {
      if (arguments.length === 0) { host('log', level, null); return; }
      const parts = [];
      for (let i = 0; i < arguments.length; i++) parts.push(fmtArg(arguments[i]));
      host('log', level, parts.join(' '));
    };
  }
  globalThis.console = {
    log: logger('info'), info: logger('info'), warn: logger('warning'),
    error: logger('error'), debug: logger('debug'),
  };
  K.warn = (msg, fields) => host('warn', msg, fields || null);

  // ---- metrics ------------------------------------------------------------------------
  // A batch of samples is three flat arrays, `samples` = [runs, values, times]:
  //   runs:   ctxRef, count, ctxRef, count, ...  (consecutive samples of one context)
  //   values: every sample's value, in order
  //   times:  the time of the samples whose context is timed, in integer microseconds
  //           (K.clock()'s resolution): the batch's first absolute, then differences
  // A context is what a sample shares with its neighbours: metric, VU tags, extra tags and
  // metadata. It is numbered; its first run carries [id, name, tagsRef, extraRef, metaRef,
  // timed] instead of the number. So a sample costs a few number pushes and no object
  // (QuickJS's cycle collector rescans every live object), interleaved metrics cost two
  // numbers per switch, and the crossing to Python is flat number arrays, the cheapest JSON
  // to write and parse. The order of samples is kept exactly (a Gauge's last value, a
  // Trend's running sum, first-seen orders and --out json depend on it). ±Infinity, which
  // JSON has no number for, crosses as text, flagged by a fourth element.
  //
  // Tag sets are numbered too. The VU's tags (K.setTags) by content, so entering a group
  // again reuses its number; the extra tags of samples are interned in a trie of key →
  // value → ..., so no key string is built per sample (tag set 0 is "none"). A tag set
  // crosses as [id, tags] in the first context using it, later as its number; metadata
  // (replaced as a whole by every change) as the object when it differs from the one sent
  // last, else 1 (0: none). VU._expand restores all this. Once TAG_SETS_MAX sets and
  // contexts were numbered the tables start afresh and a run (0, 0) tells Python to drop
  // its copies, so unique tag values cannot grow memory without bound.
  //
  // Times: only an --out writer needs every sample's time (asked once, at the first
  // sample); otherwise only Gauges keep theirs (their last time merges across workers)
  // and the clock is not read for the other samples at all.
  const SAMPLES_MAX = 1024;
  const TAG_SETS_MAX = 4096;
  let tagSets = 0;                 // sets and contexts numbered since the last drop
  let gen = 0;                     // bumped by every drop (invalidates cached contexts)
  let dropPending = false;
  let tagIds = new Map();          // JSON of a VU tag set → its number
  let tagsSeq = 0;                 // last number given (tag sets and contexts alike)
  let tagsId = 0;                  // number of K.tags
  let sent = [true];               // sent[id]: Python knows the tag set or context
  let extraRoot = new Map();       // key → Map(value → node); a node has its number at 0
  let extraSets = [];              // number → extra tags object (until sent)
  let ctxIds = new Map();          // "name,tags,extra,meta" → context number
  let metaSent = null;             // the metadata object Python holds
  let metaObj = null;              // K.metadata when metaId was given
  let metaId = 0;
  let wantTimes;
  K.tags = {};
  K.metadata = null;

  // The batch being filled (`samples` is handed over by the poll sites, which then start
  // an empty array: a batch starts at its first sample).
  let runBatch = null;
  let runs = null;
  let values = null;
  let times = null;
  let runCtx = 0;
  let runAt = 0;                   // index of the current run's count in `runs`
  let lastUs = 0;
  let buffered = 0;

  function startBatch() {
    if (wantTimes === undefined) wantTimes = host('metrics.times') !== false;
    runs = []; values = []; times = [];
    samples.push(runs, values, times);
    runBatch = samples;
    runCtx = 0; lastUs = 0; buffered = 0;
  }

  function dropTagSets() {
    if (runBatch !== samples) startBatch();
    runs.push(0, 0);
    runCtx = 0;
    tagSets = 0;
    gen++;
    tagIds = new Map();
    extraRoot = new Map();
    extraSets = [];
    ctxIds = new Map();
    sent = [true];
  }

  K.setTags = function (tags) {
    const frozen = Object.freeze(Object.assign({}, tags));
    const key = JSON.stringify(frozen);
    let id = tagIds.get(key);
    if (id === undefined) {
      if (++tagSets > TAG_SETS_MAX) { dropTagSets(); tagSets = 1; }
      id = ++tagsSeq;
      tagIds.set(key, id);
    }
    K.tags = frozen;
    tagsId = id;
  };

  // Number of a sample's extra tags (0 for none). Values must be strings, numbers or
  // booleans when `bad` is given (called with the offending key; it throws); other
  // callers pass strings. With `st` (a Sampler) the tags of the metric's previous sample
  // are compared first: a call site adding with the same tags again skips the trie.
  function extraId(tags, bad, st) {
    const keys = Object.keys(tags);
    const n = keys.length;
    if (n === 0) return 0;
    if (st !== undefined && st.lg === gen && st.lk.length === n) {
      const lk = st.lk, lv = st.lv;
      let i = 0;
      for (; i < n; i++) {
        const k = keys[i];
        if (k !== lk[i]) break;
        const v = tags[k];
        if (v !== lv[i]) {
          const tv = typeof v;
          if ((tv !== 'number' && tv !== 'boolean') || String(v) !== lv[i]) break;
        }
      }
      if (i === n) return st.lx;
    }
    const vals = [];
    let node = extraRoot;
    for (let i = 0; i < n; i++) {
      const k = keys[i];
      let v = tags[k];
      if (typeof v !== 'string') {
        const tv = typeof v;
        if (bad !== undefined && tv !== 'number' && tv !== 'boolean') bad(k);
        v = String(v);
      }
      vals.push(v);
      let byValue = node.get(k);
      if (byValue === undefined) { byValue = new Map(); node.set(k, byValue); }
      let next = byValue.get(v);
      if (next === undefined) { next = new Map(); byValue.set(v, next); }
      node = next;
    }
    let id = node.get(0);
    if (id === undefined) {
      if (++tagSets > TAG_SETS_MAX) { dropTagSets(); return extraId(tags, bad, st); }
      const obj = {};
      for (let i = 0; i < n; i++) obj[keys[i]] = vals[i];
      id = ++tagsSeq;
      node.set(0, id);
      extraSets[id] = obj;
    }
    if (st !== undefined) { st.lk = keys; st.lv = vals; st.lx = id; st.lg = gen; }
    return id;
  }
  K.extraTagsId = extraId;

  // What a metric remembers of its last sample: the context number and what it was for.
  function Sampler(name, timed) {
    this.name = name; this.timed = timed === true;
    this.x = -1; this.t = -1; this.m = null; this.g = -1; this.ctx = 0;
    this.lk = null; this.lv = null; this.lx = 0; this.lg = -1;  // last extra tags (extraId)
  }
  K.sampler = (name, timed) => new Sampler(name, timed);

  function setContext(st, x) {
    const m = K.metadata;
    if (m !== metaObj) { metaObj = m; metaId = m === null || m === undefined ? 0 : ++tagsSeq; }
    const key = st.name + ',' + tagsId + ',' + x + ',' + metaId;
    let c = ctxIds.get(key);
    if (c === undefined) {
      // the drop waits for the end of the sample: its extra tags' number must stay valid
      if (++tagSets > TAG_SETS_MAX) dropPending = true;
      c = ++tagsSeq;
      ctxIds.set(key, c);
    }
    st.x = x; st.t = tagsId; st.m = m; st.g = gen; st.ctx = c;
  }

  function startRun(st) {
    if (runBatch !== samples) startBatch();
    const c = st.ctx;
    let ref = c;
    if (sent[c] !== true) {
      sent[c] = true;
      let tref = st.t;
      if (sent[tref] !== true) { sent[tref] = true; tref = [tref, K.tags]; }
      const x = st.x;
      let xref = x;
      if (x !== 0 && sent[x] !== true) { sent[x] = true; xref = [x, extraSets[x]]; extraSets[x] = undefined; }
      const m = st.m;
      let mref = 0;
      if (m !== null && m !== undefined) mref = m === metaSent ? 1 : (metaSent = m);
      ref = [c, st.name, tref, xref, mref, st.timed || wantTimes ? 1 : 0];
    }
    runAt = runs.length + 1;
    runs.push(ref, 0);
    runCtx = c;
  }

  function handOver() {
    const s = samples;
    samples = [];
    host('F', null, s);
  }

  // Record one sample of `st` (K.sampler): `x` from K.extraTagsId; `us`: its time in
  // microseconds when the caller has one. A long synchronous loop must not pile samples
  // up in the JS heap, hence the hand-over every SAMPLES_MAX samples.
  function sample(st, value, x, us) {
    if (x !== st.x || tagsId !== st.t || K.metadata !== st.m || st.g !== gen) setContext(st, x);
    if (st.ctx !== runCtx || samples !== runBatch) startRun(st);
    runs[runAt]++;
    if (value - value !== 0) { samples[3] = 1; value = String(value); }  // ±Infinity
    values.push(value);
    if (st.timed || wantTimes) {
      if (us === undefined) us = Math.round((origin + perf.now()) * 1000);
      times.push(us - lastUs);
      lastUs = us;
    }
    if (dropPending) { dropPending = false; dropTagSets(); }
    if (++buffered >= SAMPLES_MAX) handOver();
  }
  K.sample = sample;
  const perf = performance;
  const origin = performance.timeOrigin;

  const emitters = new Map();      // metric name → its Sampler, for K.emit
  K.emit = function (name, value, extraTags, time) {
    let st = emitters.get(name);
    if (st === undefined) { st = new Sampler(name, false); emitters.set(name, st); }
    sample(st, value, extraTags ? extraId(extraTags) : 0, time === undefined ? undefined : Math.round(time * 1000));
  };

  K.tagValue = function (key, v) {
    const t = typeof v;
    if (t === 'string') return v;
    if (t === 'number' || t === 'boolean') return String(v);
    throw new TypeError("invalid value for metric tag '" + key + "': only String, Boolean and Number types are accepted as a metric tag values");
  };

  // randomSeed(): a seeded PRNG replaces Math.random for this VU (mulberry32).
  K.randomSeed = function (seed) {
    let a = (Math.trunc(seed) >>> 0) ^ 0x9e3779b9;
    Math.random = function random() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  };

  // ---- timers -------------------------------------------------------------------------
  const timerFns = new Map();
  let nextTimerId = 1;
  function addTimer(kind, cb, delay, args) {
    const id = nextTimerId++;
    if (cb === undefined || cb === null) throw goError(kind + "'s callback isn't a callable function");
    if (typeof cb !== 'function') {
      nextTimerId--; // a conversion failure consumes no id (timers.md §2)
      throw new TypeError('could not convert function call parameter 0: could not convert ' + fmtArg(cb) + ' to sobek.Callable');
    }
    let d = Number(delay);
    if (!(d > 0) || d === Infinity) d = 0;
    timerFns.set(id, [cb, args]);
    ops.push(['T', id, clock(), d, kind === 'setInterval' ? 1 : 0]);
    return id;
  }
  function clearTimer(id) {
    if (typeof id !== 'number' || !timerFns.has(id)) return;
    timerFns.delete(id);
    ops.push(['C', id]);
  }
  const timers = {
    setTimeout: function setTimeout(cb, delay, ...args) { return addTimer('setTimeout', cb, delay, args); },
    clearTimeout: function clearTimeout(id) { clearTimer(id); },
    setInterval: function setInterval(cb, delay, ...args) { return addTimer('setInterval', cb, delay, args); },
    clearInterval: function clearInterval(id) { clearTimer(id); },
  };
  K.timers = timers;
  for (const name of Object.keys(timers)) {
    Object.defineProperty(globalThis, name, { value: timers[name], writable: true, configurable: true });
  }

  // ---- events from Python -------------------------------------------------------------
  const handlers = new Map();
  K.on = (key, fn) => { handlers.set(key, fn); };
  K.off = (key) => { handlers.delete(key); };
  K.ref = () => { ops.push(['R', 1]); };
  K.unref = () => { ops.push(['R', -1]); };

  // ---- phases (iteration, setup, teardown, handleSummary, init) -----------------------
  K.main = null;          // namespace of the main module, once its evaluation finished
  K.data = undefined;     // this VU's parsed copy of the setup data
  K.failing = false;      // the current phase already threw: later errors are ignored
  let iterCounter = -1;

  // exec.test.abort() unwinds the JS stack with this value; it is not an error to log.
  K.abortSignal = Object.freeze({ toString() { return 'test aborted'; } });
  function fail(e, inPromise) {
    if (K.failing) return;
    K.failing = true;
    if (e === K.abortSignal) { ops.push(['E', '\u0000abort', 0]); return; }
    let text = errorText(e);
    if (inPromise) {
      if (!(e !== null && typeof e === 'object' && typeof e.stack === 'string')) text = String(e);
      text = 'Uncaught (in promise) ' + text;
    }
    ops.push(['E', text, inPromise ? 1 : 0]);
  }
  K.fail = fail;

  function guard(fn, self, args) {
    try {
      const r = fn.apply(self, args);
      if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
        r.then(undefined, (e) => fail(e, true));
      }
    } catch (e) {
      fail(e, false);
    }
  }
  K.guard = guard;

  // Go-like JSON for setup() data (runtime.md §1.2).
  function marshal(value) {
    const bad = [];
    const text = JSON.stringify(value, function (k, v) {
      if (typeof v === 'function') bad.push('json: unsupported type: func(sobek.FunctionCall) sobek.Value');
      else if (typeof v === 'number' && !isFinite(v)) bad.push('json: unsupported value: ' + String(v).replace('Infinity', '+Inf').replace('-+Inf', '-Inf'));
      else if (v instanceof Map) return Array.from(v.entries());
      else if (v instanceof Set) return Array.from(v.values());
      return v;
    });
    if (bad.length) throw goError('error marshaling setup() data to JSON: ' + bad[0]);
    return text;
  }

  function toBytesB64(v) {
    let u8;
    if (v instanceof ArrayBuffer) u8 = new Uint8Array(v);
    else if (ArrayBuffer.isView(v)) u8 = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    else return null;
    return { __bytes_b64__: K.b64(u8) };
  }
  K.toBytesB64 = toBytesB64;

  function finishPhase(kind, result) {
    if (kind === 'setup') {
      let text = null;
      try {
        text = result === undefined ? null : marshal(result);
      } catch (e) {
        K.failing = true;
        ops.push(['E', '\u0000fatal:' + e.message, 0]);
        return;
      }
      ops.push(['D', text]);
    } else if (kind === 'summary') {
      let out = result === undefined ? null : result;
      if (result && typeof result === 'object') {
        out = {};
        for (const key of Object.keys(result)) {
          const v = result[key];
          out[key] = typeof v === 'string' ? v : (toBytesB64(v) || (v === undefined ? null : v));
        }
      }
      ops.push(['D', out]);
    } else {
      ops.push(['D', null]);
    }
  }

  function startPhase(cmd) {
    // [3, kind, fnName, iter, dataJSON|undefined, env|null, tags|null]
    const kind = cmd[1];
    const fnName = cmd[2];
    K.failing = false;
    K.phase = kind;
    if (cmd[4] !== undefined && cmd[4] !== null) K.data = cmd[4] === 'null' ? undefined : JSON.parse(cmd[4]);
    if (cmd[5]) K.setEnv(cmd[5]);
    if (cmd[6]) K.setTags(cmd[6]);
    if (kind === 'iter') {
      iterCounter = cmd[3];
      Object.defineProperty(globalThis, '__ITER', { value: iterCounter, writable: true, configurable: true, enumerable: false });
    } else {
      delete globalThis.__ITER;
    }
    const fn = K.main ? K.main[fnName] : undefined;
    if (typeof fn !== 'function') { ops.push(['D', null]); return; }
    let arg = K.data;
    if (kind === 'summary') arg = JSON.parse(cmd[4]);
    if (kind === 'iter') { runIterations(fn, arg, cmd); return; }
    let r;
    try {
      r = kind === 'setup' ? fn() : fn(arg);
    } catch (e) {
      fail(e, false);
      return;
    }
    if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
      r.then((v) => { if (!K.failing) finishPhase(kind, v); }, (e) => fail(e, true));
    } else {
      finishPhase(kind, r);
    }
  }

  // One iteration; true when it finished synchronously and scheduled nothing (no timer,
  // socket, promise or error): the only kind that may be finished without the loop.
  function callIteration(fn, arg) {
    let r;
    try {
      r = fn(arg);
    } catch (e) {
      fail(e, false);
      return false;
    }
    if (r !== null && typeof r === 'object' && typeof r.then === 'function') {
      r.then(() => { if (!K.failing) ops.push(['D', null]); }, (e) => fail(e, true));
      return false;
    }
    if (ops.length === 0 && !K.failing) return true;
    ops.push(['D', null]);
    return false;
  }

  // Runs the iteration and, when the executor granted more (cmd[7] iterations until the
  // monotonic deadline cmd[8]), further simple iterations back to back. Before each extra
  // iteration `busy` makes sure the previous one really is over (no promise job queued,
  // no rejection recorded, not interrupted). One 'B' call then hands the clock marks to
  // Python (iteration j ran from marks[j] to marks[j + 1]: each starts where the last
  // ended), which also gets the start of any iteration still in progress.
  function runIterations(fn, arg, cmd) {
    const grant = cmd[7] | 0;
    const deadline = cmd[8] || 0;
    const t0 = clock();
    if (!callIteration(fn, arg)) return;
    let t = clock();
    const marks = [t0, t];
    let ongoing = null;
    for (let k = 1; k <= grant; k++) {
      if (busy(k)) break;
      if (deadline && t >= deadline) break;
      iterCounter++;
      G.__ITER = iterCounter;
      if (callIteration(fn, arg)) { t = clock(); marks.push(t); }
      else { ongoing = t; break; }
    }
    const s = samples.length ? samples : null;
    if (s) samples = [];
    const next = host('B', s, marks, ongoing);
    if (next !== 0) pendingCmd = next;
  }
  let pendingCmd = null;

  function reset() {
    timerFns.clear();
    handlers.clear();
    K.failing = false;
  }

  function poll() {
    const o = ops.length ? ops : null;
    const s = samples.length ? samples : null;
    if (o) ops = [];
    if (s) samples = [];
    return host('L', o, s);
  }
  // Hand queued ops and samples to Python without asking for a command (before blocking).
  K.flush = function () {
    const o = ops.length ? ops : null;
    const s = samples.length ? samples : null;
    if (o) ops = [];
    if (s) samples = [];
    if (o || s) host('F', o, s);
  };

  K.runLoop = async function runLoop() {
    for (;;) {
      let cmd;
      if (pendingCmd !== null) { cmd = pendingCmd; pendingCmd = null; }
      else if (jobsPending !== null && jobsPending()) cmd = 0; // no need to ask Python
      else cmd = poll();
      switch (cmd === 0 ? 0 : cmd[0]) {
        case 0:
          await null; // let queued promise jobs run, then poll again
          break;
        case 1: { // a timer is due
          const entry = timerFns.get(cmd[1]);
          if (entry === undefined) break;
          if (!cmd[2]) timerFns.delete(cmd[1]);
          guard(entry[0], globalThis, entry[1]);
          break;
        }
        case 2: { // an event for a binding
          const fn = handlers.get(cmd[1]);
          if (fn !== undefined) {
            if (K.failing) { try { fn(cmd[2]); } catch (_) { /* ignored while draining */ } }
            else guard(fn, undefined, [cmd[2]]);
          }
          break;
        }
        case 3:
          startPhase(cmd);
          break;
        case 4:
          return 'rejection'; // end the eval: dukpy raises the unhandled rejection now
        case 5:
          reset(); // the phase ended (done, failed or interrupted): forget its callbacks
          break;
        case 6:
          return 'exit';
        default:
          throw new Error('jsrunner: unknown loop command ' + JSON.stringify(cmd));
      }
    }
  };

  // ---- globals ------------------------------------------------------------------------
  K.setEnv = function (env) {
    Object.defineProperty(globalThis, '__ENV', { value: env, writable: true, configurable: true });
  };
  K.setVU = function (id) {
    Object.defineProperty(globalThis, '__VU', { value: id, writable: true, configurable: true });
  };
  K.setMain = function (ns) {
    K.main = ns;
    const names = [];
    for (const k of Object.keys(ns)) if (typeof ns[k] === 'function') names.push(k);
    let options = null;
    if (ns.options !== undefined) {
      try { options = JSON.parse(JSON.stringify(ns.options)); } catch (e) { options = { __error__: String(e) }; }
    }
    ops.push(['M', names, options]);
  };

  // Bytes <-> latin-1 strings (one char per byte): how k6/encoding and k6/crypto move
  // binary data to Python; QuickJS builds and reads them with native loops.
  const LATIN1_CHUNK = 8192;
  K.latin1 = function (u8) {
    if (u8.length <= LATIN1_CHUNK) return String.fromCharCode.apply(null, u8);
    const parts = [];
    for (let i = 0; i < u8.length; i += LATIN1_CHUNK) {
      parts.push(String.fromCharCode.apply(null, u8.subarray(i, i + LATIN1_CHUNK)));
    }
    return parts.join('');
  };
  K.unlatin1 = function (s) {
    const n = s.length;
    const u8 = new Uint8Array(n);
    for (let i = 0; i < n; i++) u8[i] = s.charCodeAt(i);
    return u8.buffer;
  };
  // The Go type name k6 reports for a value it cannot convert (`%T` of the export).
  K.goType = function (v) {
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
  };

  // base64 of a Uint8Array (binary data crosses to Python as base64 text)
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  // Built in chunks: string concatenation per byte is quadratic in QuickJS.
  K.b64 = function (u8) {
    const n = u8.length;
    const out = new Uint16Array(Math.ceil(n / 3) * 4);
    let o = 0;
    let i = 0;
    for (; i + 2 < n; i += 3) {
      const v = (u8[i] << 16) | (u8[i + 1] << 8) | u8[i + 2];
      out[o++] = B64C[v >> 18]; out[o++] = B64C[(v >> 12) & 63];
      out[o++] = B64C[(v >> 6) & 63]; out[o++] = B64C[v & 63];
    }
    if (i < n) {
      const v = (u8[i] << 16) | ((i + 1 < n ? u8[i + 1] : 0) << 8);
      out[o++] = B64C[v >> 18]; out[o++] = B64C[(v >> 12) & 63];
      out[o++] = i + 1 < n ? B64C[(v >> 6) & 63] : 61;
      out[o++] = 61;
    }
    let s = '';
    for (let k = 0; k < out.length; k += 8192) {
      s += String.fromCharCode.apply(null, out.subarray(k, Math.min(k + 8192, out.length)));
    }
    return s;
  };
  const B64C = new Uint16Array(64);
  for (let i = 0; i < 64; i++) B64C[i] = B64.charCodeAt(i);
  const B64REV = new Int16Array(256).fill(-1);
  for (let i = 0; i < 64; i++) B64REV[B64.charCodeAt(i)] = i;
  B64REV['-'.charCodeAt(0)] = 62; B64REV['_'.charCodeAt(0)] = 63;
  K.unb64 = function (s) {
    let len = s.length;
    while (len > 0 && s[len - 1] === '=') len--;
    const out = new Uint8Array(Math.floor(len * 3 / 4));
    let o = 0, acc = 0, bits = 0;
    for (let i = 0; i < len; i++) {
      acc = (acc << 6) | B64REV[s.charCodeAt(i)];
      bits += 6;
      if (bits >= 8) { bits -= 8; out[o++] = (acc >> bits) & 255; }
    }
    return out.buffer;
  };

  globalThis.open = function open(path, mode) {
    if (K.phase !== 'init') throw goError('the "open" function is only available in the init stage (i.e. the global scope), see https://grafana.com/docs/k6/latest/using-k6/test-lifecycle/ for more information');
    if (path === undefined || path === null || String(path) === '') throw goError("open() can't be used with an empty filename");
    const r = host('open', String(path), mode === 'b' ? 'b' : '', new Error().stack);
    if (r[0] === 'err') throw goError(r[1]);
    return mode === 'b' ? K.unb64(r[1]) : r[1];
  };
  K.phase = 'init';
})();
null;
