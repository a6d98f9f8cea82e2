// The demo dashboard: sign in, pick a repository, watch it live, edit an issue together.
// The address keeps the place (#owner/name, #owner/name/12) so a reload comes back to it.
import { Auth } from "./auth.js";
import { GitHubApi } from "./api.js";
import { Live } from "./live.js";
import { IssueEditor } from "./editor.js";

const $ = (id) => document.getElementById(id);
const auth = new Auth();
let api = null;
let live = null;
let editor = null;
let refreshTimer = null;
let routing = Promise.resolve(); // route changes and rejoins, one at a time, in order

/** Queues `step` behind the route changes before it; a failure is shown, and the queue
 * goes on. */
function then(step) {
  routing = routing.then(step).catch((error) => {
    $("project-status").textContent = error.message;
  });
  return routing;
}

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
  window.addEventListener("hashchange", () => then(route));
  const error = new URLSearchParams(location.search).get("error");
  if (error) $("signin-error").textContent = error;
  if (await auth.restore()) await signedIn();
  else showSignIn();
}

/** Back to the sign-in panel, with nothing of the last person left on the page. */
async function signOut(reason) {
  clearTimeout(refreshTimer);
  editor?.drop();
  live?.close();
  api?.close();
  live = editor = api = null;
  await auth.signOut();
  for (const id of ["feed", "presence", "issues", "network-rows", "repo-choices"]) $(id).replaceChildren();
  $("project-status").textContent = "";
  history.replaceState(null, "", location.pathname);
  showSignIn();
  $("signin-error").textContent = reason;
}

function showSignIn() {
  fetch("/demo/config.json")
    .then((response) => response.json())
    .then(({ github_sign_in: enabled }) => {
      $("oauth-login").hidden = !enabled;
      $("oauth-off").hidden = enabled;
    })
    .catch(() => {});
  $("signin").hidden = false;
  $("workspace").hidden = $("network").hidden = $("whoami").hidden = $("sign-out").hidden = true;
}

async function signedIn() {
  $("signin").hidden = true;
  $("workspace").hidden = $("network").hidden = $("whoami").hidden = $("sign-out").hidden = false;
  $("whoami").textContent = `${auth.login}${auth.kind === "session" ? "" : " (token)"}`;
  api = new GitHubApi(auth, $("network-rows"));
  live = new Live(
    auth,
    { feed: $("feed"), presence: $("presence"), status: $("project-status"), connection: $("connection") },
    {
      onEvent: changed,
      // After a reconnect: back into the project, then the issue, behind any route change.
      onConnect: () => {
        const [here, open] = [live, editor];
        then(async () => (await here.rejoin()) && here === live && open.reopen());
      },
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
  api.get("/user").catch(() => null);
  suggestRepositories(api);
  then(route);
}

async function suggestRepositories(reader) {
  try {
    const repos = await reader.get("/user/repos?per_page=50&sort=updated");
    if (reader !== api) return;
    $("repo-choices").replaceChildren(...repos.map((repo) => Object.assign(document.createElement("option"), { value: repo.full_name })));
  } catch {
    // Typing the name works without suggestions.
  }
}

/** Shows what the address names: a repository, and maybe one of its issues. */
async function route() {
  const [here, open] = [live, editor];
  if (!here) return;
  await here.connecting;
  const [owner, name, number] = location.hash.slice(1).split("/");
  if (!owner || !name || here !== live) return;
  const repo = `${owner}/${name}`;
  $("repo-input").value = repo;
  const previous = here.repo;
  if (previous?.toLowerCase() !== repo.toLowerCase()) {
    try {
      await here.join(repo); // refused: the project shown stays as it was
    } catch (error) {
      if (here === live) here.status(`${error.message}.${here.repo ? ` Still in ${here.repo}.` : ""}`);
      return;
    }
    await open.close();
    if (previous && previous.toLowerCase() !== here.repo.toLowerCase()) await here.leave(previous);
    if (here !== live) return;
    await loadIssues();
  }
  const wanted = Number(number);
  if (!wanted) return open.close();
  if (open.current?.number === wanted) return;
  try {
    await open.open(here.repo, wanted);
  } catch (error) {
    if (here === live) here.status(`#${wanted}: ${error.message}`);
  }
}

async function loadIssues() {
  const [here, reader] = [live, api];
  const repo = here?.repo;
  if (!repo) return;
  const issues = await reader.get(`/repos/${repo}/issues?state=open&per_page=50`).catch((error) => {
    if (here === live) here.status(`Issues could not be read: ${error.message}`);
    return [];
  });
  if (here !== live || here.repo !== repo) return;
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
