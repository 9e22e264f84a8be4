// Module "k6": check, group, sleep, fail, randomSeed (runtime.md §7).
const K = globalThis.__k6;

function notInInit(what) {
  if (K.phase === 'init') throw K.goError('Using ' + what + ' in the init context is not supported');
}

export function check(value, checks, tags) {
  notInInit('check()');
  if (checks === undefined || checks === null) throw K.goError('no checks provided to `check`');
  let extra = null;
  if (tags !== undefined && tags !== null && typeof tags === 'object') {
    extra = {};
    for (const k of Object.keys(tags)) extra[k] = K.tagValue(k, tags[k]);
  }
  let all = true;
  for (const name of Object.keys(checks)) {
    if (name.indexOf('::') !== -1) throw K.goError("group and check names may not contain '::'");
    const c = checks[name];
    if (c !== null && typeof c === 'function' && c.constructor && c.constructor.name === 'AsyncFunction') {
      throw K.goError('the built-in check() does not support async functions as arguments. Use the JavaScript utils library as a replacement. Refer to https://grafana.com/docs/k6/latest/javascript-api/jslib/utils/check/ for more info');
    }
    let ok;
    if (typeof c === 'function') {
      try {
        ok = c.call(undefined, value);
      } catch (e) {
        K.emit('checks', 0, Object.assign({ check: name }, extra));
        throw e;
      }
    } else {
      ok = c;
    }
    const pass = !!ok;
    K.emit('checks', pass ? 1 : 0, Object.assign({ check: name }, extra));
    if (!pass) all = false;
  }
  return all;
}

export function group(name, fn) {
  notInInit('group()');
  name = String(name);
  if (name.indexOf('::') !== -1) throw K.goError("group and check names may not contain '::'");
  if (typeof fn !== 'function') throw K.goError('group() requires a callback as a second argument');
  if (fn.constructor && fn.constructor.name === 'AsyncFunction') {
    throw K.goError('group() does not support async functions as arguments, please see https://grafana.com/docs/k6/latest/javascript-api/k6/group/ for more info');
  }
  const prev = K.tags;
  const parent = prev.group || '';
  const path = parent + '::' + name;
  K.setTags(Object.assign({}, prev, { group: path }));
  const start = K.clock();
  try {
    return fn();
  } finally {
    const end = K.clock();
    K.emit('group_duration', end - start, null, end);
    const now = Object.assign({}, K.tags, { group: parent });
    K.setTags(now);
  }
}

export function sleep(seconds) {
  const s = Number(seconds);
  if (!(s > 0)) return;
  K.flush(); // hand queued samples/timer ops over before blocking
  K.host('sleep', s);
}

export function fail(msg) {
  throw K.goError(msg === undefined ? '' : String(msg));
}

export function randomSeed(seed) {
  K.randomSeed(Number(seed));
}

export default { check, group, sleep, fail, randomSeed };
