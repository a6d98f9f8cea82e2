// The Node anchor of bench/fanout.py: a plain socket.io 4.8 server, as its documentation
// has it, with every socket in one room. Usage: node fanout_server.mjs PORT
//
//   GET /count                    -> {members, sockets}: who is in 'room'
//   GET /prep                     -> {} (nothing to do; the Python servers freeze the GC here)
//   GET /start?n=50&interval_ms=200&pad=440
//                                 -> starts n broadcasts of `msg` {seq, ts, pad} to 'room' on an
//                                    absolute schedule; ts is CLOCK_MONOTONIC in ms
//   GET /report                   -> {done, sent, frame_bytes, emit_ms, lag_ms}
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { Server } from 'socket.io';

const port = Number(process.argv[2]);
const ROOM = 'room';
const monotonicMs = () => Number(process.hrtime.bigint()) / 1e6;

const state = { done: false, sent: 0, frame_bytes: 0, emit_ms: [], lag_ms: [] };

function frameBytes(payload) {
  // What the adapter writes: engine.io "4" + socket.io "2" + the JSON, in one text frame.
  const text = Buffer.byteLength('42' + JSON.stringify(['msg', payload]));
  return text + (text < 126 ? 2 : text < 65536 ? 4 : 10);
}

function start(n, intervalMs, pad) {
  const padding = 'x'.repeat(pad);
  const t0 = performance.now();
  let seq = 0;
  const tick = () => {
    const due = t0 + seq * intervalMs;
    const lag = performance.now() - due;
    const payload = { seq, ts: monotonicMs(), pad: padding };
    const before = performance.now();
    io.to(ROOM).emit('msg', payload);
    state.emit_ms.push(performance.now() - before);
    state.lag_ms.push(lag);
    if (seq === 0) state.frame_bytes = frameBytes(payload);
    state.sent = ++seq;
    if (seq < n) {
      setTimeout(tick, Math.max(0, t0 + seq * intervalMs - performance.now()));
    } else {
      state.done = true;
    }
  };
  setTimeout(tick, 0);
}

function reply(res, body) {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname === '/count') {
    const members = io.of('/').adapter.rooms.get(ROOM)?.size ?? 0;
    return reply(res, { members, sockets: io.engine.clientsCount });
  }
  if (url.pathname === '/prep') return reply(res, {});
  if (url.pathname === '/start') {
    const n = Number(url.searchParams.get('n') ?? 50);
    const interval = Number(url.searchParams.get('interval_ms') ?? 200);
    start(n, interval, Number(url.searchParams.get('pad') ?? 440));
    return reply(res, { started: true });
  }
  if (url.pathname === '/report') return reply(res, state);
  res.writeHead(404);
  res.end();
});

const io = new Server(server, { transports: ['websocket'], serveClient: false });
io.on('connection', (socket) => {
  socket.join(ROOM);
});

server.listen(port, '127.0.0.1');
