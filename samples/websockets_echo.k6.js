// websockets_echo.k6.js: the k6/websockets API (browser-like WebSocket) against an echo endpoint.
//
// What it shows:
//   * `new WebSocket(url)` with onopen/onmessage/onclose handlers and addEventListener;
//   * text and binary messages (`binaryType = 'arraybuffer'`, sending an ArrayBuffer and a
//     typed array) and checking that the echo matches what was sent;
//   * `ws.ping()` and the 'pong' event;
//   * a safety timer (k6/timers) so a silent server cannot hang the iteration.
//
// Server: ${WS_URL}/echo (bundled server: `jsrunner serve`, or `jsrunner run --serve`).

import { WebSocket } from 'k6/websockets';
import { setTimeout, clearTimeout } from 'k6/timers';
import { check } from 'k6';

const baseUrl = (__ENV.WS_URL || 'ws://127.0.0.1:8765').replace(/\/+$/, '');

export const options = {
  vus: 2,
  iterations: 6,
  thresholds: {
    checks: ['rate==1'],
    ws_msgs_received: ['count>=18'], // 3 echoes per iteration
    ws_session_duration: ['p(95)<2000'],
  },
};

function bytesEqual(buffer, expected) {
  const got = new Uint8Array(buffer);
  if (got.length !== expected.length) return false;
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== expected[i]) return false;
  }
  return true;
}

export default function () {
  const ws = new WebSocket(`${baseUrl}/echo`);
  ws.binaryType = 'arraybuffer';

  const text = `hello from VU ${__VU}, iteration ${__ITER}`;
  const binary = new Uint8Array([0, 1, 2, 253, 254, 255, __VU & 0xff]);
  const typed = new Uint16Array([1000, 2000, 3000]);
  let received = 0;
  let ponged = false;

  const safety = setTimeout(() => {
    console.error(`VU ${__VU}: no complete echo after 5 s, closing`);
    ws.close();
  }, 5000);

  function maybeDone() {
    if (received === 3 && ponged) ws.close();
  }

  ws.onopen = () => {
    ws.send(text);
    ws.send(binary.buffer); // an ArrayBuffer
    ws.send(typed); // a typed array view: its bytes are sent
    ws.ping();
  };

  ws.onmessage = (e) => {
    received++;
    if (typeof e.data === 'string') {
      check(e.data, { 'text echo matches': (d) => d === text });
    } else if (e.data.byteLength === binary.length) {
      check(e.data, { 'binary echo is an ArrayBuffer': (d) => d instanceof ArrayBuffer });
      check(e.data, { 'binary echo matches': (d) => bytesEqual(d, binary) });
    } else {
      check(e.data, { 'typed array echo matches': (d) => bytesEqual(d, new Uint8Array(typed.buffer)) });
    }
    maybeDone();
  };

  ws.addEventListener('pong', () => {
    ponged = true;
    maybeDone();
  });

  ws.onerror = (e) => {
    console.error(`VU ${__VU}: websocket error: ${e.error}`);
  };

  ws.onclose = () => {
    clearTimeout(safety);
    check(received, { 'all three echoes arrived': (n) => n === 3 });
    check(ponged, { 'pong received': (p) => p === true });
  };
}
