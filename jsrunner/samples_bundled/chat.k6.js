// chat.k6.js: the "crocochat" example in the shape of k6 v0.41's k6/experimental/websockets doc.
//
// What it shows:
//   * one VU driving several WebSocket connections at once (four chat users per VU), all
//     event-driven: the iteration ends when every socket of that VU has closed;
//   * timers from k6/experimental/timers: setInterval to chat periodically, setTimeout to
//     LEAVE the room after a random session time and to force-close 3 s later if the server
//     did not close first; clearInterval/clearTimeout on close;
//   * checks on what the server sends back, and thresholds on checks and ws_connecting.
//
// Server: the room lives at ${WS_URL}/ws/crocochat/<room>/. `jsrunner demo` and
// `jsrunner run --serve` start jsrunner's bundled test server and set WS_URL; otherwise
// start one with `jsrunner serve` (default ws://127.0.0.1:8765).
//
// jsrunner: {"duration": "3s"}
// (the line above is read only by jsrunner's pytest plugin: a shorter run in the test suite)

import { randomString, randomIntBetween } from 'https://jslib.k6.io/k6-utils/1.4.0/index.js';
import { WebSocket } from 'k6/experimental/websockets';
import { setTimeout, clearTimeout, setInterval, clearInterval } from 'k6/experimental/timers';
import { check } from 'k6';

const baseUrl = (__ENV.WS_URL || 'ws://127.0.0.1:8765').replace(/\/+$/, '');
const chatRoomName = 'publicRoom'; // any room name works
const sessionDuration = randomIntBetween(2000, 5000); // per VU: each user stays 2-5 s

export const options = {
  vus: 2,
  duration: '8s',
  thresholds: {
    checks: ['rate>0.99'],
    ws_connecting: ['p(95)<1000'],
    ws_sessions: ['count>=4'], // at least one VU's four chat users
  },
};

export default function () {
  for (let i = 0; i < 4; i++) {
    startWSWorker(i);
  }
}

function startWSWorker(id) {
  // a new chat user: one connection to the room
  const ws = new WebSocket(`${baseUrl}/ws/crocochat/${chatRoomName}/`);

  ws.addEventListener('open', () => {
    // pick a user name
    ws.send(JSON.stringify({ event: 'SET_NAME', new_name: `Croc ${__VU}:${id}` }));

    // everything the room says to us
    ws.addEventListener('message', (e) => {
      const msg = JSON.parse(e.data);
      check(msg, { 'server message has a known event': (m) => ['CHAT_MSG', 'USER_JOINED', 'USER_LEFT'].includes(m.event) });
      if (msg.event === 'CHAT_MSG') {
        // only the first user of each VU reads the chat aloud, to keep the output short
        if (id === 0) console.log(`VU ${__VU}:${id} received: ${msg.user} says: ${msg.message}`);
      } else if (msg.event === 'ERROR') {
        console.error(`VU ${__VU}:${id} received:: ${msg.message}`);
      } else if (id === 0) {
        console.log(`VU ${__VU}:${id} received: ${msg.message}`);
      }
    });

    // say something every 0.5-1.5 s
    const intervalId = setInterval(() => {
      ws.send(JSON.stringify({ event: 'SAY', message: `I'm saying ${randomString(5)}` }));
    }, randomIntBetween(500, 1500));

    // after sessionDuration stop chatting and leave the room (the server then closes)
    const timeout1id = setTimeout(function () {
      console.log(`VU ${__VU}:${id}: ${sessionDuration}ms passed, leaving the chat`);
      ws.send(JSON.stringify({ event: 'LEAVE' }));
    }, sessionDuration);

    // close from our side if the server has not done so 3 s after the LEAVE
    const timeout2id = setTimeout(function () {
      console.log(`Closing the socket forcefully 3s after graceful LEAVE`);
      ws.close();
    }, sessionDuration + 3000);

    // when the connection closes, clean up the timers
    ws.addEventListener('close', () => {
      clearInterval(intervalId);
      clearTimeout(timeout1id);
      clearTimeout(timeout2id);
      console.log(`VU ${__VU}:${id}: disconnected`);
    });
  });

  ws.addEventListener('error', (e) => {
    console.error(`VU ${__VU}:${id}: error: ${e.error}`);
  });
}
