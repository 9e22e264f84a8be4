// lateness/drift of a 10 ms setInterval over 5 s
const PERIOD = 10;
const RUNS = Number(__ENV.RUNS || 500);
export default function () {
  const t0 = Date.now();
  let n = 0;
  let maxLate = 0;
  const id = setInterval(() => {
    n++;
    const late = Date.now() - (t0 + n * PERIOD);
    if (late > maxLate) maxLate = late;
    if (n === RUNS) {
      clearInterval(id);
      console.log(`DRIFT ${late} MAXLATE ${maxLate}`);
    }
  }, PERIOD);
}
