// Module "k6/execution" (runtime.md §8): getters evaluated on access, like k6.
const K = globalThis.__k6;
const host = K.host;

function tagsView(kind) {
  const what = kind === 'metadata' ? 'metadata' : 'tag';
  return new Proxy({}, {
    get(_, key) {
      const src = kind === 'metadata' ? (K.metadata || {}) : K.tags;
      return typeof key === 'string' ? src[key] : undefined;
    },
    set(_, key, value) {
      const t = typeof value;
      if (t !== 'string' && t !== 'number' && t !== 'boolean') {
        throw new TypeError("invalid value for metric " + what + " '" + String(key) + "': only String, Boolean and Number types are accepted as a metric " + what + (what === 'tag' ? ' values' : ' value'));
      }
      if (kind === 'metadata') {
        K.metadata = Object.freeze(Object.assign({}, K.metadata || {}, { [key]: String(value) }));
      } else {
        K.setTags(Object.assign({}, K.tags, { [key]: String(value) }));
      }
      return true;
    },
    deleteProperty(_, key) {
      if (kind === 'metadata') {
        const copy = Object.assign({}, K.metadata || {}); delete copy[key];
        K.metadata = Object.keys(copy).length ? Object.freeze(copy) : null;
      } else {
        const copy = Object.assign({}, K.tags); delete copy[key]; K.setTags(copy);
      }
      return true;
    },
    has(_, key) { return key in (kind === 'metadata' ? (K.metadata || {}) : K.tags); },
    ownKeys() { return Reflect.ownKeys(kind === 'metadata' ? (K.metadata || {}) : K.tags); },
    getOwnPropertyDescriptor(_, key) {
      const src = kind === 'metadata' ? (K.metadata || {}) : K.tags;
      if (!(key in src)) return undefined;
      return { value: src[key], writable: true, enumerable: true, configurable: true };
    },
  });
}

function callerLocation() {
  const stack = new Error().stack || '';
  for (const raw of stack.split('\n')) {
    const line = raw.trim();
    if (!line.startsWith('at ') || line.indexOf('jsrunner:') !== -1 || line.indexOf('k6/execution') !== -1) continue;
    return line.slice(3).replace(/^<anonymous> \((.*)\)$/, '$1');
  }
  return '';
}

const exec = {
  get vu() {
    if (K.phase === 'init') throw K.goError('getting VU information in the init context is not supported');
    const info = host('exec.vu');
    return {
      idInInstance: info[0], idInTest: info[1], iterationInInstance: info[2], iterationInScenario: info[3],
      tags: tagsView('tags'),
      metrics: { get tags() { return tagsView('tags'); }, get metadata() { return tagsView('metadata'); } },
    };
  },
  get scenario() {
    if (K.phase !== 'iter') throw K.goError('getting scenario information outside of the VU context is not supported');
    const s = host('exec.scenario');
    return { name: s[0], executor: s[1], startTime: s[2], progress: s[3], iterationInInstance: s[4], iterationInTest: s[5] };
  },
  get instance() {
    if (K.phase === 'init' && globalThis.__VU !== 0) throw K.goError('getting instance information in the init context is not supported');
    if (K.phase === 'init' && K.optionsPass) throw K.goError('getting instance information in the init context is not supported');
    const i = host('exec.instance');
    return { iterationsCompleted: i[0], iterationsInterrupted: i[1], vusActive: i[2], vusInitialized: i[3], currentTestRunDuration: i[4] };
  },
  test: {
    abort(msg) {
      // k6 names the caller in an iteration and in a VU's init code, not in setup/teardown
      const where = K.phase === 'iter' || K.phase === 'init' ? callerLocation() : '';
      let text = 'test aborted';
      if (msg !== undefined) text += ': ' + String(msg);
      if (where) text += ' at ' + where;
      host('exec.abort', text);
      K.aborting = true;
      throw K.abortSignal;
    },
    fail(msg) {
      host('exec.fail', msg === undefined ? '' : String(msg));
    },
    get options() {
      if (K.phase === 'init') throw K.goError('getting test options in the init context is not supported');
      return host('exec.options');
    },
  },
};

// Named exports read through to the getters above on every access (k6 evaluates them
// when used, not when imported), so `import { vu } from 'k6/execution'` works in a VU.
function live(get) {
  return new Proxy({}, {
    get(_, key) { return get()[key]; },
    set(_, key, value) { get()[key] = value; return true; },
    has(_, key) { return key in get(); },
    ownKeys() { return Reflect.ownKeys(get()); },
    getOwnPropertyDescriptor(_, key) {
      const d = Object.getOwnPropertyDescriptor(get(), key);
      if (d) d.configurable = true;
      return d;
    },
  });
}
export const scenario = live(() => exec.scenario);
export const instance = live(() => exec.instance);
export const vu = live(() => exec.vu);
export const test = exec.test;
export default exec;
