// One client process of bench/fanout.py: --clients socket.io-client connections to one server.
//
//   node fanout_clients.mjs --url http://127.0.0.1:PORT --clients 250 --broadcasts 50 \
//        --out results.json [--mode node|hubbub] [--token T --repo owner/name] [--connecting 25]
//
// In `hubbub` mode each client authenticates with --token and sends `join_project {repo}`,
// waiting for its ack (the Node server puts every socket in its room by itself).
// Prints `READY <connected> <failed>` once every client is connected (and joined), then
// `DONE complete` once every client has all --broadcasts `msg` events; on SIGUSR2 it writes
// what it has and prints `DONE timeout`. It stays connected until it is stopped.
// Latency = now - ts, both CLOCK_MONOTONIC in ms. A client is "in order" when its events
// came as seq 0, 1, ..., broadcasts-1: no gap, no duplicate, nothing reordered.
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { io } from 'socket.io-client';

const { values: options } = parseArgs({
  options: {
    url: { type: 'string' },
    clients: { type: 'string', default: '250' },
    broadcasts: { type: 'string', default: '50' },
    out: { type: 'string' },
    mode: { type: 'string', default: 'node' },
    token: { type: 'string', default: '' },
    repo: { type: 'string', default: '' },
    connecting: { type: 'string', default: '25' },
  },
});
const N = Number(options.clients);
const B = Number(options.broadcasts);
const hubbub = options.mode === 'hubbub';
const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

const latency = Array.from({ length: B }, () => []);
const totals = { connected: 0, failed: 0, received: 0, complete: 0, in_order: 0, faults: 0 };
totals.other_events = 0;
totals.disconnects = 0;
let firstError = null;
let dumped = false;

function dump(reason) {
  if (dumped) return;
  dumped = true;
  writeFileSync(options.out, JSON.stringify({ reason, clients: N, ...totals, latency }));
  process.stdout.write(`DONE ${reason}\n`);
}
process.on('SIGUSR2', () => dump('timeout'));

function client() {
  return new Promise((resolve, reject) => {
    const settings = { transports: ['websocket'], forceNew: true, reconnection: false };
    settings.timeout = 120000;
    if (hubbub) settings.auth = { token: options.token };
    const socket = io(options.url, settings);
    let count = 0;
    let ordered = true;
    let ready = false;
    socket.on('msg', (message) => {
      const took = monotonicMs() - message.ts;
      totals.received++;
      if (message.seq !== count) {
        ordered = false;
        totals.faults++;
      }
      if (message.seq >= 0 && message.seq < B) latency[message.seq].push(took);
      count++;
      if (count === B) {
        totals.complete++;
        if (ordered) totals.in_order++;
        if (totals.complete === N) dump('complete');
      } else if (count > B) {
        totals.faults++;
      }
    });
    socket.onAny((event) => {
      if (event !== 'msg') totals.other_events++; // presence deltas and the like
    });
    socket.on('connect_error', (error) => reject(error));
    socket.on('disconnect', () => {
      if (ready) totals.disconnects++;
    });
    socket.on('connect', () => {
      if (!hubbub) {
        ready = true;
        return resolve(socket);
      }
      socket.emit('join_project', { repo: options.repo }, (answer) => {
        if (answer?.ok) {
          ready = true;
          resolve(socket);
        } else {
          reject(new Error(`join refused: ${JSON.stringify(answer)}`));
        }
      });
    });
  });
}

let next = 0;
async function connector() {
  while (next < N) {
    next++;
    try {
      await client();
      totals.connected++;
    } catch (error) {
      totals.failed++;
      firstError ??= String(error?.message ?? error);
    }
  }
}
await Promise.all(Array.from({ length: Number(options.connecting) }, connector));
if (firstError) process.stderr.write(`client error: ${firstError}\n`);
process.stdout.write(`READY ${totals.connected} ${totals.failed}\n`);
