// Drives the official socket.io-client against a Hubbub server, for
// tests/realtime/test_js_client.py. Config is JSON on argv[2] (or stdin):
//   {"url": "...", "token": "..." (optional), "repo": "octo/hello" (optional),
//    "event": "github_event" (which event to record), "count": 1 (how many to wait for),
//    "timeout_ms": 15000}
// It prints one JSON line per thing that happened and exits when it is done:
//   {"connected": true}  {"ack": ...}  {"event": ...}  {"connect_error": {"message", "data"}}
//   {"disconnect": reason}  {"error": "..."}  {"done": true}
import { io } from "socket.io-client";

const readStdin = async () => {
  let text = "";
  for await (const chunk of process.stdin) text += chunk;
  return text;
};

const config = JSON.parse(process.argv[2] ?? (await readStdin()));
const timeoutMs = config.timeout_ms ?? 15000;
const expected = config.count ?? 0;
const emit = (line) => process.stdout.write(JSON.stringify(line) + "\n");

const auth = config.token === undefined ? {} : { token: config.token };
const socket = io(config.url, { transports: ["websocket"], auth, reconnection: false });

const finish = (code, line) => {
  if (line) emit(line);
  process.exitCode = code;
  clearTimeout(timer);
  socket.close();
};

// A safety net so a stuck client never outlives its test.
const timer = setTimeout(() => finish(1, { error: "timeout" }), timeoutMs);

let received = 0;
// The event to record ("github_event" unless told); an event that asks for an ack gets one.
socket.on(config.event ?? "github_event", (event, ack) => {
  emit({ event });
  if (typeof ack === "function") ack(true);
  received += 1;
  if (received >= expected) finish(0, { done: true });
});

socket.on("connect_error", (err) => {
  finish(0, { connect_error: { message: err.message, data: err.data ?? null } });
});

socket.on("disconnect", (reason) => emit({ disconnect: reason }));

socket.on("connect", async () => {
  emit({ connected: true });
  if (config.repo === undefined) return finish(0, { done: true });
  try {
    const ack = await socket.timeout(timeoutMs).emitWithAck("join_project", { repo: config.repo });
    emit({ ack });
    if (expected === 0) finish(0, { done: true });
  } catch (err) {
    finish(1, { error: String(err) });
  }
});
