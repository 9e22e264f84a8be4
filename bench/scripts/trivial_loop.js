// iterations/s of a trivial default function on 1 VU
export const options = { vus: 1, duration: __ENV.DURATION || '5s' };
let x = 0;
export default function () { x++; }
