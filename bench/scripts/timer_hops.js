// per-hop cost of a setTimeout(fn, 0) chain
const HOPS = Number(__ENV.HOPS || 10000);
export default function () {
  const t0 = Date.now();
  let n = 0;
  function hop() {
    if (++n < HOPS) { setTimeout(hop, 0); return; }
    console.log(`HOPS ${HOPS} ms ${Date.now() - t0}`);
  }
  setTimeout(hop, 0);
}
