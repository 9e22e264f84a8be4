// timers.k6.js: k6/timers (setTimeout, setInterval, clearTimeout, clearInterval).
//
// What it shows:
//   * timers keep an iteration alive: the default function returns at once, the iteration
//     ends when the last pending timer has fired or been cleared;
//   * callbacks run in delay order on the VU's event loop, promises resolve in between;
//   * setInterval stopped by clearInterval after a fixed number of ticks, a cancelled timeout;
//   * a Trend measuring how late the timers fire, with a threshold on it.
// No network needed.

import { setTimeout, clearTimeout, setInterval, clearInterval } from 'k6/timers';
import { check } from 'k6';
import { Trend } from 'k6/metrics';

const lateness = new Trend('timer_lateness', true);

export const options = {
  vus: 2,
  iterations: 4,
  thresholds: {
    checks: ['rate==1'],
    timer_lateness: ['p(95)<200'],
  },
};

function sleepAsync(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export default function () {
  const start = Date.now();
  const order = [];

  setTimeout(() => {
    order.push('300ms');
    lateness.add(Date.now() - start - 300);
  }, 300);
  setTimeout(() => order.push('100ms'), 100);
  const cancelled = setTimeout(() => order.push('never'), 200);
  clearTimeout(cancelled);

  let ticks = 0;
  const interval = setInterval(() => {
    ticks++;
    order.push(`tick${ticks}`);
    if (ticks === 3) clearInterval(interval);
  }, 120);

  sleepAsync(500).then(() => {
    lateness.add(Date.now() - start - 500);
    check(order, {
      'timeouts fire in delay order': (o) => o.indexOf('100ms') < o.indexOf('300ms'),
      'interval ticked three times': () => ticks === 3,
      'cancelled timeout never fired': (o) => !o.includes('never'),
    });
  });
}
