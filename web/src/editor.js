// One open issue, edited together: its draft is a Yjs document kept in step with the
// server over `draft:sync` (y-protocols' sync messages), cursors travel as awareness
// over `draft:awareness`, and CodeMirror shows both (y-codemirror.next). docs/drafts.md
// describes the protocol.
import * as Y from "yjs";
import * as sync from "y-protocols/sync";
import * as awarenessProtocol from "y-protocols/awareness";
import * as encoding from "lib0/encoding";
import * as decoding from "lib0/decoding";
import { Compartment, EditorState } from "@codemirror/state";
import { EditorView, keymap, placeholder } from "@codemirror/view";
import { defaultKeymap } from "@codemirror/commands";
import { yCollab, yUndoManagerKeymap } from "y-codemirror.next";
import { call, colour } from "./live.js";

const SERVER = "server"; // the origin of changes that came from the server
const MESSAGE_SYNC = 0;

// A failed save's error code, in plain words (docs/drafts.md, "Saving"). The others
// (GitHub's refusals: no_permission, validation_failed) come with the server's sentence,
// which quotes GitHub.
const SAVE_ERRORS = {
  forbidden: () => "You can read this issue but not edit it.",
  rate_limited: (e) => `Your GitHub budget is spent; try again in ${seconds(e)}.`,
  not_found: () => "GitHub no longer shows this issue to you.",
  save_in_progress: (e) => `Someone else is saving this issue; try again in ${seconds(e)}.`,
  draft_catching_up: (e) => `Some edits are still on their way; try again in ${seconds(e)}.`,
  github_unavailable: () => "GitHub did not take the save; try again shortly.",
  store_unavailable: () => "Hubbub cannot reach its store; try again shortly.",
  timeout: () => "The server did not answer; the draft is kept, try again.",
  offline: () => "Not connected to Hubbub: the draft is kept; save once the badge says live.",
};
const seconds = (error) => `${Math.max(1, Math.ceil((error.retry_after_ms ?? 1000) / 1000))} s`;

export class IssueEditor {
  /**
   * @param {import("./live.js").Live} live
   * @param {Record<string, HTMLElement>} view
   * @param {import("./api.js").GitHubApi} api
   */
  constructor(live, view, api) {
    this.live = live;
    this.view = view;
    this.api = api;
    this.editable = new Compartment();
    this.current = null; // {repo, number, doc, awareness, editors, fields, labels}
    this.focused = null; // the field this person's caret is in
    this.writable = false;
    this.queue = Promise.resolve(); // opens and closes, one at a time
    const socket = live.socket;
    socket.on("draft:sync", (data) => this.mine(data) && this.syncMessage(this.where, data.message));
    socket.on("draft:awareness", (data) => {
      if (this.mine(data)) {
        awarenessProtocol.applyAwarenessUpdate(this.current.awareness, new Uint8Array(data.message), SERVER);
      }
    });
    socket.on("draft_field", (data) => {
      if (!this.mine(data)) return;
      if (data.holder) this.current.fields[data.field] = data.holder;
      else delete this.current.fields[data.field];
      this.showHolders();
    });
    socket.on("issue_updated", (data) => {
      if (this.mine(data) && data.type !== "hubbub.issue_saved") {
        this.notice(`GitHub changed this issue (${data.action ?? "updated"} by ${data.actor ?? "someone"}); the change is merged into the draft.`);
      }
    });
    socket.on("issue_saved", (data) => {
      if (this.mine(data)) this.notice(`Saved to GitHub by ${data.by ?? "someone"}: ${data.fields.join(", ")}.`);
    });
    socket.on("issue_save_failed", (data) => this.mine(data) && this.saveStatus(explain(data.error), true));
    view.save.addEventListener("click", () => this.save());
    view.close.addEventListener("click", () => this.close());
  }

  mine(data) {
    const current = this.current;
    return current && data.number === current.number && data.repo?.toLowerCase() === current.repo.toLowerCase();
  }

  get where() {
    return { repo: this.current.repo, number: this.current.number };
  }

  /** Runs opens and closes in order: a close that overtook its open on the server would
   * leave the socket in the old issue's rooms. */
  serially(task) {
    const done = this.queue.then(task, task);
    this.queue = done.catch(() => {});
    return done;
  }

  /** Opens `number` of `repo` as a Yjs editor (closing the one open); throws with the
   * server's reason. */
  open(repo, number) {
    return this.serially(async () => {
      await this.closeCurrent();
      const place = { repo, number };
      // Longer than the server's own wait on GitHub (HUBBUB_UPSTREAM_TIMEOUT_S, 10 s).
      const ack = await call(this.live.socket, "open_issue", { ...place, yjs: true }, 15_000);
      const gone = this.live.repo?.toLowerCase() !== repo.toLowerCase();
      if ((!ack.ok && ack.error.code === "timeout") || (ack.ok && gone)) {
        // Given up on, or the project was left meanwhile: close what the server opened.
        call(this.live.socket, "close_issue", place);
      }
      if (!ack.ok) throw new Error(ack.error.message);
      if (gone) return null;
      const doc = new Y.Doc();
      const awareness = new awarenessProtocol.Awareness(doc);
      const login = this.live.auth.login ?? "you";
      awareness.setLocalStateField("user", { name: login, color: colour(login), colorLight: colour(login, true) });
      this.current = { ...place, doc, awareness, editors: [], fields: ack.fields ?? {}, labels: [] };
      this.syncMessage(place, ack.sync_step2);
      this.syncMessage(place, ack.sync_step1);
      // Both listeners keep their own place: they may fire while the editor closes.
      doc.on("update", (update, origin) => {
        if (origin === SERVER) return;
        const encoder = encoding.createEncoder();
        encoding.writeVarUint(encoder, MESSAGE_SYNC);
        sync.writeUpdate(encoder, update);
        this.send(place, "draft:sync", encoding.toUint8Array(encoder));
      });
      awareness.on("update", ({ added, updated, removed }, origin) => {
        if (origin === SERVER || this.current?.doc !== doc) return;
        const changed = added.concat(updated, removed);
        this.send(place, "draft:awareness", awarenessProtocol.encodeAwarenessUpdate(awareness, changed));
      });
      this.render(ack);
      this.live.look(number, null);
      this.loadLabels(repo);
      return ack;
    });
  }

  /** After a reconnect: open the same draft again, exchange what either side missed, and
   * say again where this person is (the server forgot it with the old connection). */
  reopen() {
    return this.serially(async () => {
      const current = this.current;
      if (!current) return;
      const place = { repo: current.repo, number: current.number };
      const ack = await call(this.live.socket, "open_issue", { ...place, yjs: true });
      if (this.current !== current) return;
      if (!ack.ok) {
        this.setWritable(false);
        return this.notice(`This issue could not be opened again (${ack.error.message}); your edits stay in this tab only.`);
      }
      current.fields = ack.fields ?? {};
      this.view.notice.hidden = true;
      this.setWritable(this.live.canEdit);
      this.syncMessage(place, ack.sync_step2);
      this.syncMessage(place, ack.sync_step1); // our answer carries what was typed offline
      const mine = awarenessProtocol.encodeAwarenessUpdate(current.awareness, [current.doc.clientID]);
      this.send(place, "draft:awareness", mine);
      this.live.look(current.number, this.focused);
      if (this.focused && this.live.canEdit) this.announceFocus(this.focused);
      this.showHolders();
    });
  }

  /** The text a field's editor shows now (the browser tests and devtools read it). */
  shown(field) {
    const index = { title: 0, body: 1 }[field];
    return this.current?.editors[index]?.state.doc.toString() ?? null;
  }

  /** Applies a y-sync message from the server; a step 1 is answered with our step 2. */
  syncMessage(place, message) {
    const decoder = decoding.createDecoder(new Uint8Array(message));
    const reply = encoding.createEncoder();
    decoding.readVarUint(decoder);
    encoding.writeVarUint(reply, MESSAGE_SYNC); // an answer is a sync message too
    sync.readSyncMessage(decoder, reply, this.current.doc, SERVER);
    if (encoding.length(reply) > 1) this.send(place, "draft:sync", encoding.toUint8Array(reply));
  }

  async send(place, event, message) {
    const ack = await call(this.live.socket, event, { ...place, message });
    if (ack.ok || !this.mine(place)) return;
    const code = ack.error.code;
    if (code === "draft_too_large") {
      this.notice("That edit goes past GitHub's limits (title 256, body 65,536 characters); undo it.");
    } else if (code === "forbidden") {
      this.notice("You can read this issue but not edit it: your changes stay in this tab only.");
    } else if (code === "not_open" || code === "not_joined") {
      this.notice("This editor lost its place on the server; it reconnects by itself, or open the issue again.");
    }
  }

  render(ack) {
    const { doc, awareness } = this.current;
    const writable = (this.writable = this.live.canEdit);
    const issue = ack.issue;
    this.view.heading.textContent = `#${issue.number} in ${this.current.repo} (${ack.draft.state})`;
    this.view.notice.hidden = true;
    this.saveStatus("");
    this.view.save.disabled = !writable;
    const titleEditor = this.editor(this.view.title, doc.getText("title"), awareness, "title", writable, true);
    const bodyEditor = this.editor(this.view.body, doc.getText("body"), awareness, "body", writable, false);
    this.current.editors = [titleEditor, bodyEditor];
    doc.getMap("labels").observe(() => this.renderLabels());
    this.view.panel.hidden = false;
    this.showHolders();
    if (!writable) this.notice("You can read this issue but not edit it.");
  }

  editor(parent, text, awareness, field, writable, singleLine) {
    const extensions = [
      keymap.of([...yUndoManagerKeymap, ...defaultKeymap]),
      yCollab(text, awareness),
      EditorView.lineWrapping,
      this.editable.of([EditorState.readOnly.of(!writable), EditorView.editable.of(writable)]),
      EditorView.contentAttributes.of({ "aria-label": field, "data-field": field }),
      EditorView.domEventHandlers({
        focus: () => this.focus(field),
        blur: () => this.focus(null),
      }),
    ];
    if (singleLine) {
      extensions.push(
        keymap.of([{ key: "Enter", run: () => true }]),
        // A title is one line: typed or pasted newlines are refused (the server's own
        // changes never carry one, and are never filtered).
        EditorState.transactionFilter.of((tr) =>
          tr.docChanged && tr.isUserEvent("input") && tr.newDoc.lines > 1 ? [] : tr),
      );
    } else {
      extensions.push(placeholder("No description yet."));
    }
    parent.replaceChildren();
    return new EditorView({ parent, state: EditorState.create({ doc: text.toString(), extensions }) });
  }

  /** Whether the editors, the label toggles and Save take input: not for readers, nor
   * while the draft could not be opened again after a reconnect. */
  setWritable(writable) {
    this.writable = writable;
    for (const view of this.current?.editors ?? []) {
      view.dispatch({
        effects: this.editable.reconfigure([EditorState.readOnly.of(!writable), EditorView.editable.of(writable)]),
      });
    }
    this.view.save.disabled = !writable;
    this.renderLabels();
  }

  /** Field focus, coalesced: moving from the title to the body is one change, not two. */
  focus(field) {
    clearTimeout(this.focusTimer);
    this.focusTimer = setTimeout(() => {
      this.focused = field;
      if (!this.current) return;
      this.live.look(this.current.number, field);
      if (this.live.canEdit) this.announceFocus(field);
    }, 50);
  }

  announceFocus(field) {
    const place = this.where;
    call(this.live.socket, "draft_focus", { ...place, field }).then((ack) => {
      if (ack.ok && this.mine(place)) {
        this.current.fields = ack.fields;
        this.showHolders();
      }
    });
  }

  showHolders() {
    for (const field of ["title", "body", "labels"]) {
      const holder = this.current?.fields[field];
      const element = this.view.holders[field];
      const someoneElse = holder && holder.id !== this.live.you;
      element.textContent = someoneElse ? `✎ ${holder.login ?? "someone"} is editing` : "";
      element.style.color = someoneElse ? colour(holder.login ?? "") : "";
    }
  }

  async loadLabels(repo) {
    try {
      const labels = await this.api.get(`/repos/${repo}/labels?per_page=100`);
      if (this.current?.repo === repo) this.current.labels = labels.map((label) => label.name);
    } catch {
      // The toggles still show the draft's own labels.
    }
    this.renderLabels();
  }

  renderLabels() {
    if (!this.current) return;
    const chosen = this.current.doc.getMap("labels");
    const names = [...new Set([...this.current.labels, ...chosen.keys()])].sort();
    const writable = this.writable;
    this.view.labels.replaceChildren(
      ...names.map((name) => {
        const button = document.createElement("button");
        button.type = "button";
        button.textContent = name;
        button.dataset.label = name;
        button.setAttribute("aria-pressed", String(chosen.has(name)));
        button.disabled = !writable;
        button.addEventListener("click", () => {
          this.current.doc.transact(() => (chosen.has(name) ? chosen.delete(name) : chosen.set(name, true)));
        });
        return button;
      }),
    );
  }

  async save() {
    if (!this.current) return;
    this.view.save.disabled = true;
    this.saveStatus("Saving…");
    const ack = await call(this.live.socket, "save_issue", { ...this.where, op_id: crypto.randomUUID() }, 20_000);
    this.view.save.disabled = !this.writable;
    if (!ack.ok) return this.saveStatus(explain(ack.error), true);
    const merged = ack.merged ? " GitHub had changed the issue meanwhile: its changes were merged in first, nothing of theirs was overwritten." : "";
    if (!ack.saved) return this.saveStatus(`Nothing to save: the draft matches GitHub.${merged}`);
    const dropped = ack.not_kept?.length ? ` GitHub did not keep: ${ack.not_kept.join(", ")}.` : "";
    this.saveStatus(`Saved ${ack.fields.join(", ")} to GitHub.${merged}${dropped}`);
  }

  saveStatus(text, failed = false) {
    this.view.saveStatus.textContent = text;
    this.view.saveStatus.classList.toggle("error", failed);
  }

  notice(text) {
    this.view.notice.textContent = text;
    this.view.notice.hidden = false;
  }

  /** Closes the open issue (the server removes this editor's cursor for the others). */
  close() {
    return this.serially(() => this.closeCurrent());
  }

  /** Forgets the open issue at once, without waiting for the server (signing out, or
   * taken out of the project). */
  drop() {
    const current = this.current;
    if (!current) return;
    this.current = null;
    this.focused = null;
    for (const view of current.editors) view.destroy();
    current.awareness.destroy();
    current.doc.destroy();
    this.view.panel.hidden = true;
    return current;
  }

  async closeCurrent() {
    const current = this.drop();
    if (!current) return;
    this.live.look(null, null);
    await call(this.live.socket, "close_issue", { repo: current.repo, number: current.number });
  }
}

function explain(error) {
  return (SAVE_ERRORS[error.code] ?? ((e) => (e.code?.startsWith("upstream_") ? "GitHub could not be reached; try again shortly." : e.message)))(error);
}
