// The Socket.IO side of the page: one connection, one joined project, its activity feed
// and who is here. The protocol is docs/realtime.md's.
import { io } from "socket.io-client";

const FEED_MAX = 50;
const OFFSETS = "hubbub-demo-offsets";

const offsets = () => JSON.parse(sessionStorage.getItem(OFFSETS) ?? "{}");
const remember = (repo, id) =>
  sessionStorage.setItem(OFFSETS, JSON.stringify({ ...offsets(), [repo.toLowerCase()]: id }));

/** The ack of an event, or an error ack when the server does not answer in time. */
export async function call(socket, event, data, timeoutMs = 10_000) {
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
   * @param {{onEvent?: (event: any) => void, onConnect?: () => void}} hooks
   */
  constructor(auth, view, hooks) {
    this.auth = auth;
    this.view = view;
    this.hooks = hooks;
    this.repo = null; // the joined project's name, as the server gave it
    this.repositoryId = null;
    this.you = null; // this connection's presence id
    this.members = new Map();
    this.seen = new Set(); // stream ids already in the feed
    this.socket = io({
      transports: ["websocket"],
      // A function: every reconnect sends the token and the offsets as they are then.
      auth: (cb) => cb({ token: auth.token, offsets: offsets() }),
    });
    this.socket.on("connect", () => this.connected());
    this.socket.on("disconnect", (reason) => this.disconnected(reason));
    this.socket.on("connect_error", (err) => this.refused(err));
    this.socket.on("github_event", (event) => this.event(event));
    this.socket.on("presence", (delta) => this.presence(delta));
    this.socket.on("project_left", ({ repo }) => this.status(`You no longer have access to ${repo}.`));
    this.socket.on("auth:expiring", () => this.renew());
    this.socket.on("auth:ended", ({ message }) => this.status(`Signed out: ${message}`));
  }

  state(text) {
    this.view.connection.textContent = text;
    this.view.connection.dataset.state = text;
  }

  status(text) {
    this.view.status.textContent = text;
  }

  async connected() {
    this.state("live");
    if (this.repo) await this.join(this.repo);
    this.hooks.onConnect?.();
  }

  disconnected(reason) {
    this.state("offline");
    // After a server-side disconnect socket.io-client does not come back by itself.
    if (reason === "io server disconnect" && this.auth.token) {
      setTimeout(() => this.socket.connect(), 1000);
    }
  }

  refused(err) {
    this.state("offline");
    this.status(`Cannot connect: ${err.data?.message ?? err.message}`);
    if (!this.socket.active && err.message !== "unauthorized") {
      setTimeout(() => this.socket.connect(), err.data?.retry_after_ms ?? 2000);
    }
  }

  async renew() {
    if (this.auth.kind !== "session") return;
    try {
      await this.auth.refresh();
      await call(this.socket, "auth:refresh", { token: this.auth.token });
    } catch (error) {
      this.status(`Could not renew the session: ${error.message}`);
    }
  }

  /** Joins `repo`, leaving the project joined before; the ack's answer, or throws. */
  async join(repo) {
    if (this.repo && this.repo.toLowerCase() !== repo.toLowerCase()) {
      await call(this.socket, "leave_project", { repo: this.repo });
      this.repo = null;
    }
    const hadOffset = offsets()[repo.toLowerCase()] !== undefined;
    const ack = await call(this.socket, "join_project", { repo });
    if (!ack.ok) throw new Error(ack.error.message);
    if (ack.repo.toLowerCase() !== (this.repo ?? "").toLowerCase()) {
      this.view.feed.replaceChildren();
      this.seen.clear();
    }
    this.repo = ack.repo;
    this.repositoryId = ack.repository_id;
    this.permission = ack.permission;
    this.you = ack.presence.you ?? null;
    this.members = new Map(ack.presence.members.map((member) => [member.id, member]));
    this.renderPresence(ack.presence.count);
    const events = hadOffset && !ack.resync_required ? [...ack.events, ...ack.catch_up] : ack.events;
    for (const event of events) this.event(event, { replay: true });
    this.status(`${ack.repo}: you can ${ack.permission === "read" ? "read" : "edit"} here.`);
    return ack;
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
    if (!replay) this.hooks.onEvent?.(event);
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

  close() {
    this.socket.close();
  }
}

/** A stable colour per login, for presence dots and remote cursors. */
export function colour(login, light = false) {
  let hash = 0;
  for (const char of login) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return `hsl(${hash % 360} 70% ${light ? "85%" : "45%"})`;
}
