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
  metric.add = function add(value, tags) {
    if (K.phase === 'init') throw K.goError('Adding to metrics in the init context is not supported');
    if (arguments.length === 0 || value === undefined) {
      return invalid(name, "no value was provided for metric '" + name + "', a number or a boolean value is expected");
    }
    let v;
    if (value === null) v = NaN;
    else if (typeof value === 'boolean') v = value ? 1 : 0;
    else v = Number(value);
    if (Number.isNaN(v)) {
      return invalid(name, "'" + String(value) + "' is an invalid value for metric '" + name + "', a number or a boolean value is expected");
    }
    let extra = null;
    if (tags !== undefined && tags !== null && typeof tags === 'object') {
      extra = {};
      for (const k of Object.keys(tags)) {
        const t = tags[k];
        const tt = typeof t;
        if (tt !== 'string' && tt !== 'number' && tt !== 'boolean') {
          throw K.goError("cannot add tags for the '" + name + "' custom metric: invalid value for metric tag '" + k + "': only String, Boolean and Number types are accepted as a metric tag values");
        }
        extra[k] = String(t);
      }
    }
    K.emit(name, v, extra);
    return true;
  };
  return metric;
}

export function Counter(name, isTime) { return make('counter', name, isTime); }
export function Gauge(name, isTime) { return make('gauge', name, isTime); }
export function Rate(name, isTime) { return make('rate', name, isTime); }
export function Trend(name, isTime) { return make('trend', name, isTime); }
export default { Counter, Gauge, Rate, Trend };
