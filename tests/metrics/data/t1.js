import { Counter, Gauge, Rate, Trend } from 'k6/metrics';
import { check, group } from 'k6';
const c = new Counter('my_counter');
const g = new Gauge('my_gauge');
const r = new Rate('my_rate');
const t = new Trend('my_trend');
const tt = new Trend('my_time_trend', true);
const d = new Counter('my_data', false);
export const options = {
  iterations: 2, vus: 1,
  thresholds: {
    my_trend: ['avg < 100', 'p(99)<1000', 'med>1', 'p(99.9)  >=  1', 'avg!=1'],
    'my_counter{tag:a}': ['count>=2', 'rate>0'],
    'Zz{t:a}': ['count>=0'],
    'my_gauge': ['value>0'],
    'nodata_rate': ['rate>0.5'],
    'my_rate': ['rate>0.9'],
    'my_time_trend': ['p(95)<2000', 'p(50)<2000'],
  },
  summaryTrendStats: ['avg', 'min', 'max', 'p(90)', 'count'],
};
const zz = new Counter('Zz');
const nr = new Rate('nodata_rate');
export function setup() { check(1, {'setup check': () => true}); }
export default function () {
  group('g_b', () => { check(1, {'b1': () => true, 'same': () => false}); group('inner', () => { check(1, {'same': () => false}); }); });
  group('g_a', () => { check(1, {'a1': () => true}); c.add(1, {tag: 'a'}); });
  c.add(3, {tag: 'b'});
  g.add(-5); g.add(-3);
  r.add(true); r.add(false);
  t.add(50); t.add(60);
  tt.add(1234.5678);
}
