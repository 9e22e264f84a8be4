// Modules "k6/timers" and "k6/experimental/timers": the very function objects installed
// as globals (timers.md §1), so `setTimeout === imported setTimeout`.
const T = globalThis.__k6.timers;
export const setTimeout = T.setTimeout;
export const clearTimeout = T.clearTimeout;
export const setInterval = T.setInterval;
export const clearInterval = T.clearInterval;
export default { setTimeout, clearTimeout, setInterval, clearInterval };
