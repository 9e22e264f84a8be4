// CPU cost of interleaved samples: per loop step a Trend, a Counter and a Rate add (N of each)
import { Counter, Rate, Trend } from 'k6/metrics';
const t = new Trend('my_trend');
const c = new Counter('my_counter');
const r = new Rate('my_rate');
const N = Number(__ENV.N || 200000);
const ADD = __ENV.ADD !== '0';
export default function () {
  let x = 0;
  for (let i = 0; i < N; i++) {
    if (ADD) { t.add(i % 100); c.add(1, { kind: 'a' }); r.add(i % 3 === 0); } else x += i % 100 + 1 + (i % 3);
  }
}
