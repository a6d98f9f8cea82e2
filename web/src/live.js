// The Socket.IO side of the page: one connection, one joined project, its activity feed
// and who is here. The protocol is docs/realtime.md's.
import { io } from "socket.io-client";

const FEED_MAX = 50;
const OFFSETS = "hubbub-demo-offsets";
const EDITORS = ["write", "maintain", "admin"]; // triage and read may look, not edit

const offsets = () => JSON.parse(sessionStorage.getItem(OFFSETS) ?? "{}");
const remember = (repo, id) =>
  sessionStorage.setItem(OFFSETS, JSON.stringify({ ...offsets(), [repo.toLowerCase()]: id }));

/** Stream ids compare as pairs of numbers (`ms-seq`), never as strings. */
const streamOrder = (a, b) => {
  const [am, as] = a.id.split("-").map(Number);
  const [bm, bs] = b.id.split("-").map(Number);
  return am - bm || as - bs;
};

/** The ack of an event, or an error ack when the server does not answer in time. While
 * disconnected nothing is sent: socket.io would send it before the reconnect has joined
 * the project again, to be refused, and a reconnect says everything again anyway. */
export async function call(socket, event, data, timeoutMs = 10_000) {
  if (!socket.connected) return { ok: false, error: { code: "offline", message: "not connected to Hubbub" } };
  try {
    return await socket.timeout(timeoutMs).emitWithAck(event, data);
  } catch {
    return { ok: false, error: { code: "timeout", message: "the server did not answer in time" } };
  }
}

export class Live {
  /**
   * @param {import("./auth.js").Auth} auth
   * @param {{feed: HTMLElement, presence: HTMLElement, status: HTMLElement,
   *          connection: HTMLElement}} view
   * @param {{onEvent: (event: any) => void, onConnect: () => void,
   *          onSignedOut: (reason: string) => void, onProjectLeft: (repo: string) => void}} hooks
   */
  constructor(auth, view, hooks) {
    this.auth = auth;
    this.view = view;
    this.hooks = hooks;
    this.repo = null; // the joined project's name, as the server gave it
    this.repositoryId = null;
    this.canEdit = false;
    this.you = null; // this connection's presence id
    this.members = new Map();
    this.seen = new Set(); // stream ids already in the feed
    this.closed = false;
    this.retry = null;
    // Settles at the first connect, or when closed: routes wait for it.
    this.connecting = new Promise((resolve) => (this.settleConnecting = resolve));
    this.socket = io({
      transports: ["websocket"],
      // A function: every reconnect sends a fresh token and the offsets as they are then.
      auth: (cb) => {
        const send = () => cb({ token: auth.token, offsets: offsets() });
        auth.fresh().then(send, (error) => (error.status === 401 ? this.ended() : send()));
      },
    });
    this.socket.on("connect", () => {
      this.state("live");
      this.settleConnecting();
      this.hooks.onConnect();
    });
    this.socket.on("disconnect", (reason) => this.disconnected(reason));
    this.socket.on("connect_error", (err) => this.refused(err));
    this.socket.on("github_event", (event) => this.event(event));
    this.socket.on("presence", (delta) => this.presence(delta));
    this.socket.on("project_left", ({ repo }) => this.removed(repo));
    this.socket.on("auth:expiring", () => this.renew());
    this.socket.on("auth:ended", ({ code }) => {
      if (code === "token_expired") auth.expired(); // reconnect with a renewed token
      else this.ended();
    });
  }

  ended() {
    this.hooks.onSignedOut("Your session ended; sign in again.");
  }

  state(text) {
    this.view.connection.textContent = text;
    this.view.connection.dataset.state = text;
  }

  status(text) {
    this.view.status.textContent = text;
  }

  later(ms) {
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.closed || this.socket.connect(), ms);
  }

  /** After a reconnect: joins the project shown again; true once in it (or when none is
   * shown). Refused for good (`forbidden`): out of it; otherwise tried again later. */
  async rejoin() {
    const repo = this.repo;
    if (!repo) return true;
    try {
      await this.join(repo);
      return true;
    } catch (error) {
      if (error.code === "forbidden") {
        this.removed(repo);
      } else if (error.code !== "offline") {
        this.status(`Could not rejoin ${repo}: ${error.message}`);
        setTimeout(() => this.socket.connected && this.hooks.onConnect(), error.retryAfterMs ?? 2000);
      }
      return false;
    }
  }

  disconnected(reason) {
    this.state("offline");
    // After a server-side disconnect socket.io-client does not come back by itself.
    if (reason === "io server disconnect") this.later(1000);
  }

  refused(err) {
    this.state("offline");
    if (err.message === "unauthorized") return this.hooks.onSignedOut(err.data?.message ?? "sign in again");
    if (err.message === "token_expired") this.auth.expired();
    this.status(`Cannot connect: ${err.data?.message ?? err.message}`);
    // A refusal is not retried by the client itself; a network failure is.
    if (!this.socket.active) this.later(err.data?.retry_after_ms ?? 2000);
  }

  async renew() {
    if (this.auth.kind !== "session") return;
    try {
      await this.auth.refresh();
      const ack = await call(this.socket, "auth:refresh", { token: this.auth.token });
      if (!ack.ok) this.status(`Could not renew the session: ${ack.error.message}`);
    } catch (error) {
      if (error.status === 401) return this.ended();
      this.status(`Could not renew the session: ${error.message}`);
    }
  }

  /** Joins `repo` and shows it; throws with the server's reason, and stays in the project
   * shown, when the join is refused. The project shown before is still joined: `leave` it. */
  async join(repo) {
    const key = repo.toLowerCase();
    const offset = offsets()[key];
    // Longer than the server's own wait on GitHub (HUBBUB_UPSTREAM_TIMEOUT_S, 10 s).
    const ack = await call(this.socket, "join_project", { repo, ...(offset ? { offset } : {}) }, 15_000);
    if (!ack.ok) {
      // Given up on: the server may still finish the join, so leave what it joins.
      if (ack.error.code === "timeout") call(this.socket, "leave_project", { repo });
      throw Object.assign(new Error(ack.error.message), {
        code: ack.error.code,
        retryAfterMs: ack.error.retry_after_ms,
      });
    }
    const previous = this.repositoryId;
    if (previous !== ack.repository_id) {
      this.view.feed.replaceChildren();
      this.seen.clear();
    }
    this.repo = ack.repo;
    this.repositoryId = ack.repository_id;
    this.canEdit = EDITORS.includes(ack.permission);
    this.you = ack.presence.you ?? null;
    this.members = new Map(ack.presence.members.map((member) => [member.id, member]));
    this.renderPresence(ack.presence.count);
    // `events` and `catch_up` may hold the same events; the feed shows each once.
    const events = ack.resync_required ? ack.events : [...ack.events, ...ack.catch_up];
    for (const event of events.sort(streamOrder)) this.event(event, { replay: true });
    this.status(`${ack.repo}: you can ${this.canEdit ? "edit" : "read"} here.`);
    return ack;
  }

  leave(repo) {
    return call(this.socket, "leave_project", { repo });
  }

  /** Taken out of the project (access revoked). */
  removed(repo) {
    if (!this.repo || repo.toLowerCase() !== this.repo.toLowerCase()) return;
    this.repo = this.repositoryId = null;
    this.members.clear();
    this.renderPresence(0);
    this.status(`You no longer have access to ${repo}.`);
    this.hooks.onProjectLeft(repo);
  }

  /** Tells the room what this person is looking at. */
  look(issue, field) {
    if (!this.repo) return;
    call(this.socket, "presence", { repo: this.repo, issue, field, op_id: crypto.randomUUID() });
  }

  event(event, { replay = false } = {}) {
    if (!this.repo || event.repository?.id !== this.repositoryId) return;
    remember(this.repo, event.id);
    if (this.seen.has(event.id)) return;
    this.seen.add(event.id);
    const item = document.createElement("li");
    item.dataset.type = event.type;
    item.dataset.id = event.id;
    const subject = event.subject?.number ? ` #${event.subject.number}` : event.subject?.ref ? ` ${event.subject.ref}` : "";
    const what = event.type === "hubbub.issue_saved"
      ? "saved through Hubbub"
      : event.type.replace(/^github\./, "").replace(/_/g, " ");
    const title = event.data?.title ? ` “${event.data.title}”` : "";
    item.append(
      Object.assign(document.createElement("strong"), { textContent: event.actor ?? "someone" }),
      ` ${what}${event.action ? ` ${event.action}` : ""}${subject}${title}`,
      Object.assign(document.createElement("time"), {
        textContent: new Date(event.time).toLocaleTimeString(),
        dateTime: event.time,
      }),
    );
    this.view.feed.prepend(item);
    while (this.view.feed.children.length > FEED_MAX) this.view.feed.lastChild.remove();
    if (!replay) this.hooks.onEvent(event);
  }

  presence(delta) {
    if (!this.repo || delta.repo.toLowerCase() !== this.repo.toLowerCase()) return;
    if (delta.type === "snapshot") {
      this.members = new Map(delta.members.map((member) => [member.id, member]));
    } else if (delta.member && delta.type === "left") {
      this.members.delete(delta.member.id);
    } else if (delta.member) {
      this.members.set(delta.member.id, delta.member);
    }
    this.renderPresence(delta.count);
  }

  renderPresence(count) {
    const items = [...this.members.values()].map((member) => {
      const item = document.createElement("li");
      item.dataset.login = member.login ?? "";
      item.dataset.id = member.id;
      const name = member.agent ? `${member.agent} (agent of ${member.login})` : member.login ?? "a token";
      item.append(Object.assign(document.createElement("span"), { className: "dot", style: `background:${colour(member.login ?? "")}` }));
      item.append(Object.assign(document.createElement("strong"), { textContent: name }));
      if (member.id === this.you) item.append(" (you)");
      const where = member.issue ? ` on #${member.issue}${member.field ? ` · ${member.field}` : ""}` : "";
      if (where) item.append(Object.assign(document.createElement("span"), { className: "muted", textContent: where }));
      if (member.status !== "active") item.append(Object.assign(document.createElement("span"), { className: "muted", textContent: ` ${member.status}` }));
      return item;
    });
    const more = count - this.members.size;
    if (more > 0) items.push(Object.assign(document.createElement("li"), { className: "muted", textContent: `and ${more} more` }));
    this.view.presence.replaceChildren(...items);
  }

  /** For good: no reconnect, no timer left behind (sign-out). */
  close() {
    this.closed = true;
    clearTimeout(this.retry);
    this.settleConnecting();
    this.socket.close();
  }
}

/** A stable colour per login, for presence dots and remote cursors. */
export function colour(login, light = false) {
  let hash = 0;
  for (const char of login) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360} 70% ${light ? "85%" : "45%"})`;
}
