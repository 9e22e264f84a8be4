// custom_metrics.k6.js: custom metrics from k6/metrics (no network).
//
// What it shows:
//   * Counter, Gauge, Rate and Trend (a time Trend shown in ms in the summary);
//   * tags on samples and thresholds on tagged submetrics ('metric{tag:value}');
//   * k6/execution for the VU and iteration numbers.

import { Counter, Gauge, Rate, Trend } from 'k6/metrics';
import exec from 'k6/execution';
import { check } from 'k6';

const orders = new Counter('orders');
const basketSize = new Gauge('basket_size');
const discounted = new Rate('discounted_orders');
const processing = new Trend('order_processing', true);

export const options = {
  vus: 2,
  iterations: 10,
  thresholds: {
    orders: ['count==10'],
    'orders{kind:big}': ['count>=1'],
    discounted_orders: ['rate>0.2', 'rate<0.8'],
    order_processing: ['p(95)<250', 'max<500'],  // generous: a loaded CI machine shares its cores
    basket_size: ['value>0'],
  },
};

export default function () {
  const n = exec.scenario.iterationInTest; // 0..9 across both VUs
  const items = 1 + (n % 4);
  const started = Date.now();
  let work = 0;
  for (let i = 0; i < 20000 * items; i++) work += i % 7;

  orders.add(1, { kind: items >= 3 ? 'big' : 'small' });
  basketSize.add(items);
  discounted.add(n % 2 === 0);
  processing.add(Date.now() - started, { vu: String(exec.vu.idInTest) });

  check(work, { 'work was done': (w) => w > 0 });
}
