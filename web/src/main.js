// The demo dashboard: sign in, pick a repository, watch it live, edit an issue together.
// The address keeps the place (#owner/name, #owner/name/12) so a reload comes back to it.
import { Auth } from "./auth.js";
import { GitHubApi } from "./api.js";
import { Live } from "./live.js";
import { IssueEditor } from "./editor.js";

const $ = (id) => document.getElementById(id);
const auth = new Auth();
const api = new GitHubApi(() => auth.token, $("network-rows"));
let live = null;
let editor = null;
let refreshTimer = null;
let routing = Promise.resolve(); // one route change at a time, in order

async function start() {
  $("token-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("signin-error").textContent = "";
    try {
      await auth.useToken($("token-input").value.trim());
      $("token-input").value = "";
      await signedIn();
    } catch (error) {
      $("signin-error").textContent = error.message;
    }
  });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("repo-form").addEventListener("submit", (event) => {
    event.preventDefault();
    location.hash = $("repo-input").value.trim();
  });
  window.addEventListener("hashchange", () => (routing = routing.then(route)));
  const error = new URLSearchParams(location.search).get("error");
  if (error) $("signin-error").textContent = error;
  if (await auth.restore()) await signedIn();
  else showSignIn();
}

/** Back to the sign-in panel, with nothing of the last person left on the page. */
async function signOut(reason) {
  editor?.drop();
  live?.close();
  live = editor = null;
  await auth.signOut();
  for (const id of ["feed", "presence", "issues", "network-rows", "repo-choices"]) $(id).replaceChildren();
  $("project-status").textContent = "";
  history.replaceState(null, "", location.pathname);
  showSignIn();
  $("signin-error").textContent = reason;
}

function showSignIn() {
  $("signin").hidden = false;
  $("workspace").hidden = $("network").hidden = $("whoami").hidden = $("sign-out").hidden = true;
}

async function signedIn() {
  $("signin").hidden = true;
  $("workspace").hidden = $("network").hidden = $("whoami").hidden = $("sign-out").hidden = false;
  $("whoami").textContent = `${auth.login}${auth.kind === "session" ? "" : " (token)"}`;
  live = new Live(
    auth,
    { feed: $("feed"), presence: $("presence"), status: $("project-status"), connection: $("connection") },
    {
      onEvent: changed,
      onConnect: () => editor?.reopen(),
      onSignedOut: (reason) => signOut(reason),
      onProjectLeft: () => {
        editor?.drop();
        $("issues").replaceChildren();
        history.replaceState(null, "", location.pathname);
      },
    },
  );
  editor = new IssueEditor(live, {
    panel: $("editor"),
    heading: $("editor-heading"),
    notice: $("notice"),
    title: $("title-editor"),
    body: $("body-editor"),
    labels: $("labels"),
    save: $("save"),
    saveStatus: $("save-status"),
    close: $("close-issue"),
    holders: { title: $("holder-title"), body: $("holder-body"), labels: $("holder-labels") },
  }, api);
  await api.get("/user").catch(() => null);
  suggestRepositories();
  await new Promise((resolve) => (live.socket.connected ? resolve() : live.socket.once("connect", resolve)));
  routing = routing.then(route);
}

async function suggestRepositories() {
  try {
    const repos = await api.get("/user/repos?per_page=50&sort=updated");
    $("repo-choices").replaceChildren(...repos.map((repo) => Object.assign(document.createElement("option"), { value: repo.full_name })));
  } catch {
    // Typing the name works without suggestions.
  }
}

/** Shows what the address names: a repository, and maybe one of its issues. */
async function route() {
  if (!live) return;
  const [owner, name, number] = location.hash.slice(1).split("/");
  if (!owner || !name) return;
  const repo = `${owner}/${name}`;
  $("repo-input").value = repo;
  try {
    const previous = live.repo;
    if (previous?.toLowerCase() !== repo.toLowerCase()) {
      await live.join(repo); // refused: the project shown stays as it was
      await editor.close();
      if (previous && previous.toLowerCase() !== live.repo.toLowerCase()) live.leave(previous);
      await loadIssues();
    }
    const wanted = Number(number);
    if (!wanted) return editor.close();
    if (editor.current?.number !== wanted) await editor.open(live.repo, wanted);
  } catch (error) {
    $("project-status").textContent = `${error.message}.${live.repo ? ` Still in ${live.repo}.` : ""}`;
  }
}

async function loadIssues() {
  const repo = live.repo;
  const issues = await api.get(`/repos/${repo}/issues?state=open&per_page=50`).catch((error) => {
    $("project-status").textContent = `Issues could not be read: ${error.message}`;
    return [];
  });
  if (live.repo !== repo) return;
  $("issues").replaceChildren(
    ...issues.map((issue) => {
      const item = document.createElement("li");
      item.dataset.number = issue.number;
      const link = Object.assign(document.createElement("a"), { href: `#${repo}/${issue.number}` });
      link.append(Object.assign(document.createElement("span"), { className: "muted", textContent: `#${issue.number} ` }), issue.title);
      item.append(link);
      for (const label of issue.labels ?? []) {
        item.append(Object.assign(document.createElement("span"), { className: "label", textContent: label.name ?? label }));
      }
      return item;
    }),
  );
}

/** A live event about issues refreshes the list (the gateway revalidates: watch X-Cache). */
function changed(event) {
  if (!event.type.startsWith("github.issue") && event.type !== "hubbub.issue_saved") return;
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => loadIssues(), 300);
}

// For devtools and the browser tests: what the editors show, without parsing their DOM
// (remote cursors add their owners' names inside the text's elements).
window.hubbub = { shown: (field) => editor?.shown(field) ?? null };

start();
