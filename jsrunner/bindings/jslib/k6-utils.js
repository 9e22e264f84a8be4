// jsrunner's own k6-utils (served for https://jslib.k6.io/k6-utils/<version>/index.js,
// runtime.md §5.3). One file for every version: the union of their exports, with the
// behaviour of the newest (1.6: `check` also awaits a Promise `value`).
//
// Everything random uses Math.random, so k6's randomSeed() makes it reproducible.
import { randomBytes } from 'k6/crypto';
import exec from 'k6/execution';

const K = globalThis.__k6;

// ---- check ------------------------------------------------------------------------------
// Like k6's check(), but each checker (a function's result or a plain value) may be a
// Promise. One sample on the built-in `checks` Rate per checker, tagged with the user's
// tags plus `check: <key>` (and the VU's tags: group, scenario, ...), emitted when that
// checker's result is known. Returns a boolean, or a Promise of one if anything was a
// Promise.
function addCheckSample(key, result, tags) {
  if (K.phase === 'init' && !K.main) throw K.goError('Adding to metrics in the init context is not supported');
  const extra = {};
  if (tags !== undefined && tags !== null) {
    for (const k of Object.keys(tags)) {
      try {
        extra[k] = K.tagValue(k, tags[k]);
      } catch (e) {
        throw K.goError("cannot add tags for the 'checks' custom metric: " + e.message);
      }
    }
  }
  extra.check = key;
  K.emit('checks', result ? 1 : 0, extra);
  return result;
}

export function check(value, checkers, tags) {
  if (value instanceof Promise) return value.then((v) => check(v, checkers, tags));
  let pending = false;
  const results = [];
  for (const [key, checker] of Object.entries(checkers)) {
    let result = typeof checker === 'function' ? checker(value) : checker;
    if (result instanceof Promise) {
      pending = true;
      result = result.then((r) => addCheckSample(key, r, tags));
    } else {
      addCheckSample(key, result, tags);
    }
    results.push(result);
  }
  if (pending) return Promise.all(results).then((all) => all.every(Boolean));
  return results.every(Boolean);
}

// ---- durations and stages -----------------------------------------------------------------
function isDigit(c) {
  return c >= '0' && c <= '9';
}

// "1h2m3s4ms" -> 3723004 (ms). The character right after a number is its unit
// (d, h, m, s, ms); the `ms` amount is truncated; a trailing unit-less number counts as ms;
// other characters before a number are skipped. Plain Errors, as the library throws.
export function parseDuration(str) {
  if (str === undefined || str === null || str.length < 1) throw new Error('str is empty');
  let total = 0;
  let digits = '';
  const seen = new Set();
  const n = str.length;
  for (let i = 0; i < n; i++) {
    const c = str[i];
    if (isDigit(c) || c === '.') digits += c;
    const next = str[i + 1];
    if (next === undefined || isDigit(next) || next === '.') continue;
    const amount = parseFloat(digits);
    let unit = next;
    if (unit === 'd') total += amount * 86400000;
    else if (unit === 'h') total += amount * 3600000;
    else if (unit === 's') total += amount * 1000;
    else if (unit === 'm') {
      if (str[i + 2] === 's') {
        total += Math.trunc(amount);
        unit = 'ms';
        i++;
      } else {
        total += amount * 60000;
      }
    } else {
      throw new Error(unit + ' is an unsupported time unit');
    }
    if (seen.has(unit)) throw new Error(unit + ' time unit is provided multiple times');
    seen.add(unit);
    i++; // the unit's (last) character
    digits = '';
  }
  if (digits.length > 0) total += parseFloat(digits);
  return total;
}

function currentScenarioStages() {
  const name = exec.scenario.name;
  const scenario = exec.test.options.scenarios[name];
  if (scenario === undefined || scenario === null) {
    throw new Error("the exec.test.options object doesn't contain the current scenario " + name);
  }
  const stages = scenario.stages;
  if (stages === undefined || stages === null) {
    throw new Error('only ramping-vus or ramping-arravial-rate supports stages, it is not possible to get a stage index on other executors.');
  }
  if (stages.length < 1) throw new Error('the current scenario ' + name + " doesn't contain any stage");
  return stages;
}

// Index of the running stage of the current ramping-* scenario: the first stage whose
// cumulative end is after the time elapsed since the scenario started, else the last.
export function getCurrentStageIndex() {
  const stages = currentScenarioStages();
  const elapsed = Date.now() - exec.scenario.startTime;
  let end = 0;
  for (let i = 0; i < stages.length; i++) {
    end += parseDuration(stages[i].duration);
    if (elapsed < end) return i;
  }
  return stages.length - 1;
}

export function tagWithCurrentStageIndex() {
  exec.vu.tags['stage'] = getCurrentStageIndex();
}

// `stage_profile` tag: stage 0 is "ramp-up"; later stages compare their target with the
// previous stage's: higher "ramp-up", equal "steady", lower "ramp-down".
export function tagWithCurrentStageProfile() {
  const index = getCurrentStageIndex();
  let profile = 'ramp-up';
  if (index > 0) {
    const stages = currentScenarioStages();
    const current = stages[index].target;
    const previous = stages[index - 1].target;
    if (current > previous) profile = 'ramp-up';
    else if (current == previous) profile = 'steady'; // eslint-disable-line eqeqeq
    else profile = 'ramp-down';
  }
  exec.vu.tags['stage_profile'] = profile;
}

// ---- text ---------------------------------------------------------------------------------
// The text between the first `left` and the next `right` after it; null if there is none.
// With `repeat`: every such match, scanning on after each `right` (null if none).
export function findBetween(content, left, right, repeat = false) {
  const found = [];
  let rest = content;
  for (;;) {
    let start = rest.indexOf(left);
    if (start === -1) break;
    start += left.length;
    const end = rest.indexOf(right, start);
    if (end === -1) break;
    const match = rest.substring(start, end);
    if (!repeat) return match;
    found.push(match);
    const next = rest.substring(end + right.length);
    if (next.length === rest.length) break; // empty left and right: no progress (would loop forever)
    rest = next;
  }
  return found.length ? found : null;
}

// ---- load profile -------------------------------------------------------------------------
// numberOfStages + 2 stages following a standard normal density sampled at
// x_i = -2 + 4i/n (i = 0..n), plus a final stage to 0 VUs; targets scaled so the peak is
// maxVus; the first and last stage last ceil(d/6) s, the others ceil(4d/(6n)) s.
export function normalDistributionStages(maxVus, durationSeconds, numberOfStages = 10) {
  const n = numberOfStages;
  const density = (x) => Math.exp(-(x * x) / 2) / Math.sqrt(2 * Math.PI);
  const curve = [];
  for (let i = 0; i <= n; i++) curve.push(density(-2 + (4 * i) / n));
  curve.push(0);
  const peak = Math.max(...curve);
  const edge = Math.ceil(durationSeconds / 6);
  const middle = Math.ceil((4 * durationSeconds) / (6 * n));
  const stages = [];
  for (let k = 0; k <= n + 1; k++) {
    const seconds = k === 0 || k === n + 1 ? edge : middle;
    stages.push({ duration: seconds + 's', target: Math.round((curve[k] * maxVus) / peak) });
  }
  return stages;
}

// ---- random values ------------------------------------------------------------------------
export function randomIntBetween(min, max) {
  return Math.floor(Math.random() * (max - min + 1) + min);
}

export function randomItem(arrayOfItems) {
  return arrayOfItems[Math.floor(Math.random() * arrayOfItems.length)];
}

// `length` characters of `charset`. The library counts down with `while (length--)`, so a
// negative or fractional length would never end; jsrunner throws instead of hanging.
export function randomString(length, charset = 'abcdefghijklmnopqrstuvwxyz') {
  let left = +length;
  if (left !== left) return ''; // NaN: the loop would not run
  if (!(Number.isInteger(left) && left >= 0)) {
    throw new Error('randomString: length must be a non-negative integer, got ' + String(length) + ' (the k6-utils loop would never end)');
  }
  let out = '';
  while (left--) out += charset[(Math.random() * charset.length) | 0];
  return out;
}

const HEX_BYTE = [];
for (let i = 0; i < 256; i++) HEX_BYTE.push((i + 0x100).toString(16).slice(1));

// UUID v4, lower-case. Default: Math.random (fast, reproducible with randomSeed);
// secure = true: 16 bytes from k6/crypto.randomBytes with the version/variant bits set.
export function uuidv4(secure = false) {
  if (!secure) {
    return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
      const r = (Math.random() * 16) | 0;
      return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
    });
  }
  const b = new Uint8Array(randomBytes(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += HEX_BYTE[b[i]];
  }
  return s;
}
