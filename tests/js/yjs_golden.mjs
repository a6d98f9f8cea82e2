// The same concurrent edits, made by `yjs`, for tests/realtime/test_draft_yjs.py, which
// makes them with pycrdt too and compares. Config is JSON on argv[2]:
//   {"peers": [client ids], "steps": [...]}  or  {"apply": "<base64 update>"}
// A step is {"peer", "text": "title"|"body", "at" (in code points), "insert" | "delete"},
// {"peer", "map": "labels", "set" | "remove": name}, or {"sync": true} (every peer
// gets every other's whole state). Prints {"json": {title, body, labels}, "state": base64}.
import * as Y from "yjs";

const config = JSON.parse(process.argv[2]);

const view = (doc) => ({
  title: doc.getText("title").toString(),
  body: doc.getText("body").toString(),
  labels: [...doc.getMap("labels").keys()].sort(),
});

// A position in code points, as UTF-16 units (what Y.Text counts).
const units = (text, at) => Array.from(text).slice(0, at).join("").length;

if (config.apply !== undefined) {
  const doc = new Y.Doc();
  Y.applyUpdate(doc, Buffer.from(config.apply, "base64"));
  process.stdout.write(JSON.stringify({ json: view(doc) }) + "\n");
} else {
  const docs = config.peers.map((id) => {
    const doc = new Y.Doc();
    doc.clientID = id;
    return doc;
  });
  for (const step of config.steps) {
    if (step.sync) {
      const states = docs.map((doc) => Y.encodeStateAsUpdate(doc));
      docs.forEach((doc, i) => states.forEach((state, j) => i !== j && Y.applyUpdate(doc, state)));
      continue;
    }
    const doc = docs[step.peer];
    if (step.text !== undefined) {
      const text = doc.getText(step.text);
      const at = units(text.toString(), step.at);
      if (step.insert !== undefined) text.insert(at, step.insert);
      else text.delete(at, units(text.toString().slice(at), step.delete));
    } else if (step.set !== undefined) {
      doc.getMap(step.map).set(step.set, true);
    } else {
      doc.getMap(step.map).delete(step.remove);
    }
  }
  const state = Buffer.from(Y.encodeStateAsUpdate(docs[0])).toString("base64");
  process.stdout.write(JSON.stringify({ json: view(docs[0]), state }) + "\n");
}
