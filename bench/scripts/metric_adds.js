// CPU cost of recording samples from JS: N Trend adds with one tag in one iteration
import { Trend } from 'k6/metrics';
const t = new Trend('my_trend');
const N = Number(__ENV.N || 200000);
const ADD = __ENV.ADD !== '0';
export default function () {
  let x = 0;
  for (let i = 0; i < N; i++) {
    if (ADD) t.add(i % 100, { kind: 'a' }); else x += i % 100;
  }
}
