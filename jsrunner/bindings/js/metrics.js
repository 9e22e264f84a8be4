// Module "k6/metrics" (runtime.md §9): Counter, Gauge, Rate, Trend.
const K = globalThis.__k6;

function invalid(name, msg) {
  if (K.throwMode) throw K.goError(msg);
  K.warn(msg);
  return false;
}

function make(type, name, isTime) {
  if (K.phase !== 'init') throw K.goError('metrics must be declared in the init context');
  name = String(name);
  const err = K.host('metrics.define', name, type, isTime === true);
  if (err) throw K.goError(err);
  const metric = {};
  Object.defineProperty(metric, 'name', { value: name, enumerable: true, writable: false });
  const sample = K.sample;
  const st = K.sampler(name, type === 'gauge');
  const extraTagsId = K.extraTagsId;
  function badTag(k) {
    throw K.goError("cannot add tags for the '" + name + "' custom metric: invalid value for metric tag '" + k + "': only String, Boolean and Number types are accepted as a metric tag values");
  }
  // The hot path of a busy VU: no `arguments` object, no copy of the tags (K.extraTagsId
  // validates and numbers them), numbers go straight to the sample buffer.
  metric.add = function add(value, tags) {
    if (K.phase === 'init') throw K.goError('Adding to metrics in the init context is not supported');
    let v = value;
    if (typeof v !== 'number') {
      if (v === undefined) {
        return invalid(name, "no value was provided for metric '" + name + "', a number or a boolean value is expected");
      }
      if (v === null) v = NaN;
      else if (typeof v === 'boolean') v = v ? 1 : 0;
      else v = Number(v);
    }
    if (v !== v) {
      return invalid(name, "'" + String(value) + "' is an invalid value for metric '" + name + "', a number or a boolean value is expected");
    }
    sample(st, v, tags !== undefined && tags !== null && typeof tags === 'object' ? extraTagsId(tags, badTag, st) : 0);
    return true;
  };
  return metric;
}

export function Counter(name, isTime) { return make('counter', name, isTime); }
export function Gauge(name, isTime) { return make('gauge', name, isTime); }
export function Rate(name, isTime) { return make('rate', name, isTime); }
export function Trend(name, isTime) { return make('trend', name, isTime); }
export default { Counter, Gauge, Rate, Trend };
