// legacy_ws.k6.js: the legacy k6/ws API (ws.connect with a callback that owns the socket).
//
// What it shows:
//   * `ws.connect(url, params, callback)`: the call blocks until the socket closes and
//     returns the handshake response (status 101);
//   * socket.on('open' | 'message' | 'pong' | 'close' | 'error');
//   * socket.setInterval: send a message and a ping every second;
//   * socket.setTimeout: close the socket after a few seconds;
//   * checks on the response and on the echoes, thresholds on ws_* metrics.
//
// Server: ${WS_URL}/echo (bundled server: `jsrunner serve`, or `jsrunner run --serve`).

import ws from 'k6/ws';
import { check } from 'k6';

const baseUrl = (__ENV.WS_URL || 'ws://127.0.0.1:8765').replace(/\/+$/, '');

export const options = {
  vus: 2,
  iterations: 2,
  thresholds: {
    checks: ['rate==1'],
    ws_sessions: ['count==2'],
    ws_session_duration: ['min>=2500'], // each session lasts ~3 s
    ws_ping: ['p(95)<1000'],
  },
};

export default function () {
  const url = `${baseUrl}/echo`;
  const params = { tags: { sample: 'legacy_ws' } };
  let pongs = 0;
  let echoes = 0;

  const res = ws.connect(url, params, function (socket) {
    socket.on('open', () => {
      socket.send(`hello from VU ${__VU}`);

      socket.setInterval(() => {
        socket.send(`tick ${Date.now()}`);
        socket.ping();
      }, 1000);

      socket.setTimeout(() => {
        console.log(`VU ${__VU}: 3 s passed, closing the socket`);
        socket.close();
      }, 3000);
    });

    socket.on('message', (data) => {
      echoes++;
      check(data, { 'echo is text': (d) => typeof d === 'string' && d.length > 0 });
    });

    socket.on('pong', () => {
      pongs++;
    });

    socket.on('error', (e) => {
      console.error(`VU ${__VU}: ${e.error()}`);
    });

    socket.on('close', () => {
      console.log(`VU ${__VU}: closed after ${echoes} echoes and ${pongs} pongs`);
    });
  });

  check(res, { 'handshake status is 101': (r) => r && r.status === 101 });
  check(pongs, { 'got at least two pongs': (n) => n >= 2 });
  check(echoes, { 'got the greeting and the ticks back': (n) => n >= 3 });
}
