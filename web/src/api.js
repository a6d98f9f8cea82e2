// Every read of GitHub goes through Hubbub's gateway at /api/github, and each request is
// shown in the network panel with the gateway's X-Cache, so the cache can be watched.

const MAX_ROWS = 40;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export class GitHubApi {
  /** @param {import("./auth.js").Auth} auth  @param {HTMLElement} rows the panel's tbody */
  constructor(auth, rows) {
    this.auth = auth;
    this.rows = rows;
    this.closed = false; // signed out: answers still on their way are not shown
  }

  close() {
    this.closed = true;
  }

  async get(path) {
    const token = await this.auth.fresh().catch(() => this.auth.token);
    const started = performance.now();
    let response;
    try {
      // no-store: the browser's own cache would hide the gateway's; every read reaches it.
      response = await fetch(`/api/github${path}`, {
        headers: { Authorization: `Bearer ${token}`, Accept: "application/vnd.github+json" },
        cache: "no-store",
      });
    } catch (error) {
      this.record("GET", path, "—", "network error", started);
      throw new ApiError(0, "network", "Hubbub did not answer");
    }
    this.record("GET", path, response.status, response.headers.get("x-cache") ?? "—", started);
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      // Hubbub's own errors are {"error": {code, message}}; GitHub's are {message}.
      const code = body?.error?.code ?? `http_${response.status}`;
      const message = body?.error?.message ?? body?.message ?? `answered ${response.status}`;
      throw new ApiError(response.status, code, message);
    }
    return body;
  }

  record(method, path, status, cache, started) {
    if (this.closed) return;
    const row = document.createElement("tr");
    const cells = [
      new Date().toLocaleTimeString(),
      `${method} ${path}`,
      String(status),
      cache,
      (performance.now() - started).toFixed(0),
    ];
    for (const text of cells) row.append(Object.assign(document.createElement("td"), { textContent: text }));
    row.children[3].className = `cache cache-${cache.toLowerCase().replace(/[^a-z]/g, "")}`;
    row.dataset.cache = cache;
    row.dataset.path = path;
    this.rows.prepend(row);
    while (this.rows.children.length > MAX_ROWS) this.rows.lastChild.remove();
  }
}
