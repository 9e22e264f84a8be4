// checks_groups.k6.js: checks, groups and thresholds (no network).
//
// What it shows:
//   * check() with several named conditions, returning whether all passed;
//   * nested group()s: checks are reported under their group path, group_duration is
//     tagged with the group;
//   * setup() data passed to every iteration, teardown() after the run;
//   * thresholds on the checks rate, on a check-tagged submetric and on group_duration.

import { check, group } from 'k6';

export const options = {
  vus: 3,
  iterations: 9,
  thresholds: {
    checks: ['rate==1'],
    'checks{check:order total is positive}': ['rate==1'],
    'group_duration{group:::shop::checkout}': ['max<1000'],
  },
};

export function setup() {
  return { prices: { apple: 3, pear: 5 }, currency: 'EUR' };
}

function total(order, prices) {
  return Object.keys(order).reduce((sum, item) => sum + order[item] * prices[item], 0);
}

export default function (data) {
  group('shop', () => {
    const order = { apple: 1 + (__ITER % 3), pear: __VU };

    group('cart', () => {
      check(order, {
        'cart has two items': (o) => Object.keys(o).length === 2,
        'quantities are whole numbers': (o) => Object.values(o).every(Number.isInteger),
      });
    });

    group('checkout', () => {
      const sum = total(order, data.prices);
      const ok = check(sum, {
        'order total is positive': (s) => s > 0,
        'order total is below 100': (s) => s < 100,
      });
      if (!ok) console.warn(`VU ${__VU}: unexpected total ${sum} ${data.currency}`);
    });
  });
}

export function teardown(data) {
  console.log(`teardown: prices were ${JSON.stringify(data.prices)}`);
}
