// A browser-like Yjs editor of one issue draft, over the official socket.io-client, for
// tests/realtime/test_draft_yjs.py. Config is JSON on argv[2]:
//   {"url", "token", "repo", "number", "insert": text typed at the start of the body,
//    "offline": text in the document before it connects, "until": text the body must
//    come to contain, "timeout_ms"}
// It opens the issue as a Yjs client (y-protocols sync messages, binary Socket.IO
// events), types, and prints {"opened": draft} {"typed": ack} {"body": text} ... and
// {"done": body} once the body contains `until`.
import { io } from "socket.io-client";
import * as Y from "yjs";
import * as syncProtocol from "y-protocols/sync";
import * as encoding from "lib0/encoding";
import * as decoding from "lib0/decoding";

const config = JSON.parse(process.argv[2]);
const emit = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const where = { repo: config.repo, number: config.number };
const doc = new Y.Doc();
const body = doc.getText("body");
// Typed before connecting: only the answer to the server's step 1 can carry it.
if (config.offline) body.insert(0, config.offline);
const socket = io(config.url, {
  transports: ["websocket"],
  auth: { token: config.token },
  reconnection: false,
});
const timer = setTimeout(() => finish(1, { error: "timeout", body: body.toString() }), config.timeout_ms ?? 15000);

function finish(code, line) {
  if (line) emit(line);
  process.exitCode = code;
  clearTimeout(timer);
  socket.close();
}

// Applies a y-sync message from the server; answers a step 1 the way y-protocols does.
const receive = (message) => {
  const decoder = decoding.createDecoder(new Uint8Array(message));
  const reply = encoding.createEncoder();
  decoding.readVarUint(decoder); // message type: sync
  encoding.writeVarUint(reply, 0); // the answer is a sync message too
  syncProtocol.readSyncMessage(decoder, reply, doc, "server");
  return encoding.length(reply) > 1 ? encoding.toUint8Array(reply) : null;
};

const check = () => {
  emit({ body: body.toString() });
  if (config.until !== undefined && body.toString().includes(config.until)) {
    finish(0, { done: body.toString() });
  }
};

socket.on("draft:sync", (data) => {
  if (data.number !== config.number) return;
  const reply = receive(data.message); // a step 1 from the server wants our step 2
  if (reply) {
    socket.emitWithAck("draft:sync", { ...where, message: reply }).then((ack) => {
      if (!ack.ok) finish(1, { error: ack.error, body: body.toString() });
    });
  }
  check();
});

doc.on("update", (update, origin) => {
  if (origin === "server") return;
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0); // sync
  syncProtocol.writeUpdate(encoder, update);
  socket.emitWithAck("draft:sync", { ...where, message: encoding.toUint8Array(encoder) }).then(
    (ack) => emit({ typed: ack }),
  );
});

socket.on("connect", async () => {
  try {
    await socket.emitWithAck("join_project", { repo: config.repo });
    const opened = await socket.emitWithAck("open_issue", { ...where, yjs: true });
    if (!opened.ok) return finish(1, { error: opened.error });
    receive(opened.sync_step2);
    const reply = receive(opened.sync_step1); // our step 2: whatever we had that it lacks
    if (reply) {
      const answered = await socket.emitWithAck("draft:sync", { ...where, message: reply });
      if (!answered.ok) return finish(1, { error: answered.error });
    }
    emit({ opened: opened.draft });
    if (config.insert) body.insert(0, config.insert);
    check();
  } catch (err) {
    finish(1, { error: String(err) });
  }
});
socket.on("connect_error", (err) => finish(1, { error: err.message }));
