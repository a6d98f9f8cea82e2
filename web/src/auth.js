// Who the page acts as: a Hubbub session (after "Sign in with GitHub": the session
// token comes from /api/auth/me, and a new one from the refresh cookie) or a GitHub token
// pasted into this tab.

const PASTED = "hubbub-demo-token";
const RENEW_BEFORE_S = 30; // a session token this close to its expiry is renewed first

export class Auth {
  constructor() {
    this.token = null; // what goes in Authorization and Socket.IO's auth.token
    this.expiresAt = null; // Unix seconds, for session tokens
    this.login = null;
    this.kind = null; // "session" | "github_token"
  }

  /** The identity the page already has (a session, or a token pasted earlier in this
   * tab), or null when the visitor must sign in. */
  async restore() {
    const pasted = sessionStorage.getItem(PASTED);
    if (pasted) return this.useToken(pasted).catch(() => null);
    const me = await fetch("/api/auth/me", { credentials: "same-origin" });
    if (me.ok) return this.adopt(await me.json());
    // The session cookie lives as long as its token; the refresh cookie much longer.
    return me.status === 401 ? this.refresh().catch(() => null) : null;
  }

  /** Checks a pasted token with the server (the same resolver every request uses). */
  async useToken(token) {
    const me = await fetch("/api/auth/me", { headers: { Authorization: `Bearer ${token}` } });
    const body = await me.json().catch(() => null);
    if (!me.ok) throw new Error(body?.error?.message ?? `the token was refused (${me.status})`);
    sessionStorage.setItem(PASTED, token);
    this.token = token;
    this.expiresAt = null;
    this.login = body.user.login;
    this.kind = body.kind;
    return this;
  }

  adopt(body) {
    this.token = body.token;
    this.expiresAt = body.expires_at;
    this.login = body.user.login;
    this.kind = "session";
    return this;
  }

  /** The token to present now: a session token about to expire is renewed first. */
  async fresh() {
    if (this.kind === "session" && this.expiresAt * 1000 < Date.now() + RENEW_BEFORE_S * 1000) {
      await this.refresh();
    }
    return this.token;
  }

  /** The server said the session token has expired: the next `fresh()` renews it. */
  expired() {
    if (this.kind === "session") this.expiresAt = 0;
  }

  /** A new session token from the refresh cookie. One tab refreshes at a time: a refresh
   * token presented twice ends the session. */
  async refresh() {
    return navigator.locks.request("hubbub-refresh", async () => {
      const response = await fetch("/api/auth/refresh", { method: "POST", credentials: "same-origin" });
      const body = await response.json().catch(() => null);
      if (!response.ok) {
        // 401: the session is over (signed out elsewhere, or the refresh token expired).
        throw Object.assign(new Error(body?.error?.message ?? "the session could not be renewed"), {
          status: response.status,
        });
      }
      return this.adopt(body);
    });
  }

  async signOut() {
    const pasted = sessionStorage.getItem(PASTED);
    sessionStorage.removeItem(PASTED);
    if (!pasted && this.kind === "session") {
      await fetch("/api/auth/logout", { method: "POST", credentials: "same-origin" }).catch(() => {});
    }
    this.token = this.login = this.kind = this.expiresAt = null;
  }
}
