"""A fake of GitHub's REST API, faithful where the gateway depends on it.

ETags depend on the token and `Accept` as GitHub's do (weak for anonymous callers); a
matching `If-None-Match` gets a 304 that costs no rate limit; every answer carries
`x-ratelimit-*` from per-token, per-resource accounting; lists paginate with `Link`
(later pages in GitHub's `/repositories/{id}/...` form); and a test can inject failures
(5xx, secondary limits, dropped connections, slow answers) or hold requests until it
releases them, waiting for "N requests held" instead of sleeping.

Routing is on the raw path, as GitHub's is: `heads%2Ffeature` is one segment.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx
from starlette.types import Message, Receive, Scope, Send

KNOWN_VERSIONS = {"2022-11-28", "2026-03-10"}
RESOURCE_LIMITS = {"core": 5000, "search": 30, "code_search": 10, "graphql": 5000}
ANONYMOUS_LIMIT = 60
DOCS = "https://docs.github.com/rest"
SECONDARY_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


class DroppedConnection(Exception):
    """Raised inside the app so the server drops the connection."""


class _DroppingASGITransport(httpx.ASGITransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except DroppedConnection as exc:
            raise httpx.RemoteProtocolError("Server disconnected", request=request) from exc


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    token: str | None
    body: bytes
    host: str
    status: int = 0


@dataclass
class FakeRepo:
    id: int
    owner: str
    name: str
    private: bool
    readers: set[str]
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)


@dataclass
class _Budget:
    limit: int
    used: int = 0
    reset: int = field(default_factory=lambda: int(time.time()) + 3600)

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass
class _Injection:
    remaining: int
    kind: str
    path: str | None
    status: int = 500
    retry_after: int | None = None
    seconds: float = 0.0


class FakeGitHub:
    def __init__(self, *, base_path: str = "", public_origin: str | None = None) -> None:
        self.base_path = base_path.rstrip("/")
        self.public_origin = (public_origin or "http://fake-github.test").rstrip("/")
        self.requests: list[RecordedRequest] = []
        self.users: dict[str, tuple[str, int]] = {}
        self.repos: dict[str, FakeRepo] = {}
        self.renamed: dict[str, str] = {}
        self._budgets: dict[tuple[str, str], _Budget] = {}
        self._injections: list[_Injection] = []
        self._holding: str | bool | None = False
        self._held = 0
        self._release = asyncio.Event()
        self._held_changed = asyncio.Condition()
        self._next_id = 1000

    # --- set-up -----------------------------------------------------------------------

    def add_user(self, token: str, login: str, *, user_id: int | None = None) -> None:
        self.users[token] = (login, user_id or self._new_id())

    def add_repo(
        self,
        owner: str,
        name: str,
        *,
        private: bool = False,
        readers: Iterable[str] = (),
        repo_id: int | None = None,
    ) -> FakeRepo:
        repo = FakeRepo(repo_id or self._new_id(), owner, name, private, set(readers))
        repo.refs["heads/main"] = "a" * 40
        repo.refs["heads/feature-x"] = "b" * 40
        self.repos[f"{owner}/{name}".lower()] = repo
        return repo

    def add_issue(
        self,
        owner: str,
        name: str,
        *,
        title: str,
        body: str = "",
        state: str = "open",
        labels: Iterable[str] = (),
        number: int | None = None,
    ) -> dict[str, Any]:
        """Add an issue, or replace issue `number` as an edit on github.com would."""
        repo = self._repo(owner, name)
        number = number or len(repo.issues) + 1
        issue = self._issue(repo, number, title, body, state, list(labels), "octocat")
        repo.issues[number] = issue
        return issue

    def rename_repo(self, owner: str, old: str, new: str) -> None:
        repo = self.repos.pop(f"{owner}/{old}".lower())
        repo.name = new
        self.repos[f"{owner}/{new}".lower()] = repo
        self.renamed[f"{owner}/{old}".lower()] = f"{owner}/{new}".lower()

    # --- rate limits ------------------------------------------------------------------

    def set_rate_limit(
        self,
        token: str | None,
        *,
        limit: int | None = None,
        remaining: int | None = None,
        reset: int | None = None,
        resource: str = "core",
    ) -> None:
        budget = self._budget(token or "anon", resource)
        if limit is not None:
            budget.limit = limit
        if remaining is not None:
            budget.used = budget.limit - remaining
        if reset is not None:
            budget.reset = reset

    def rate_limit(self, token: str | None, resource: str = "core") -> tuple[int, int, int]:
        budget = self._budget(token or "anon", resource)
        return budget.limit, budget.remaining, budget.used

    # --- observation ------------------------------------------------------------------

    def count(self, method: str | None = None, path: str | None = None) -> int:
        return sum(
            1
            for request in self.requests
            if (method is None or request.method == method)
            and (path is None or request.path == self.base_path + path or request.path == path)
        )

    # --- failure injection and holding ------------------------------------------------

    def fail_next(self, n: int = 1, *, status: int = 500, path: str | None = None) -> None:
        self._injections.append(_Injection(n, "fail", path, status=status))

    def secondary_limit_next(
        self,
        n: int = 1,
        *,
        retry_after: int | None = 60,
        status: int = 403,
        path: str | None = None,
    ) -> None:
        self._injections.append(
            _Injection(n, "secondary", path, status=status, retry_after=retry_after)
        )

    def drop_next(self, n: int = 1, *, path: str | None = None) -> None:
        self._injections.append(_Injection(n, "drop", path))

    def delay_next(self, n: int, seconds: float, *, path: str | None = None) -> None:
        self._injections.append(_Injection(n, "delay", path, seconds=seconds))

    def hold(self, path: str | None = None) -> None:
        """Hold matching requests (all when `path` is None) until `release()`."""
        self._holding = path
        self._release = asyncio.Event()

    async def wait_held(self, n: int, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout), self._held_changed:
            await self._held_changed.wait_for(lambda: self._held >= n)

    def release(self) -> None:
        self._holding = False
        self._release.set()

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport to the app in process, where a dropped connection looks like
        one (httpx.RemoteProtocolError), as it does over a socket."""
        return _DroppingASGITransport(app=self.app)

    # --- the ASGI app -----------------------------------------------------------------

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        body = b""
        while True:
            message: Message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        request = RecordedRequest(
            method=scope["method"],
            path=raw_path,
            query=scope["query_string"].decode("latin-1"),
            headers=headers,
            token=_token(headers.get("authorization")),
            body=body,
            host=headers.get("host", ""),
        )
        self.requests.append(request)
        await self._maybe_hold(request)
        try:
            status, response_headers, payload = await self._respond(request, scope)
        except DroppedConnection:
            # Promise a body, then fail: a server can only cut the connection now.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-length", b"1000")],
                }
            )
            raise
        request.status = status
        encoded = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response_headers]
        await send({"type": "http.response.start", "status": status, "headers": encoded})
        await send({"type": "http.response.body", "body": payload})

    async def _maybe_hold(self, request: RecordedRequest) -> None:
        holding = self._holding
        if holding is False or (holding is not None and not self._matches(holding, request)):
            return
        release = self._release
        async with self._held_changed:
            self._held += 1
            self._held_changed.notify_all()
        try:
            await release.wait()
        finally:
            self._held -= 1

    def _matches(self, path: str | None, request: RecordedRequest) -> bool:
        return path is None or request.path in (path, self.base_path + path)

    def _take_injection(self, request: RecordedRequest) -> _Injection | None:
        for injection in self._injections:
            if injection.remaining > 0 and self._matches(injection.path, request):
                injection.remaining -= 1
                return injection
        return None

    async def _respond(
        self, request: RecordedRequest, scope: Scope
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        injection = self._take_injection(request)
        if injection is not None and injection.kind == "drop":
            raise DroppedConnection("the fake dropped the connection")
        if injection is not None and injection.kind == "delay":
            await asyncio.sleep(injection.seconds)  # a slow GitHub, not synchronisation
        token = request.token
        if token is not None and token not in self.users:
            return self._json(
                request,
                401,
                {"message": "Bad credentials", "documentation_url": DOCS},
                "core",
                charge=False,
            )
        version = request.headers.get("x-github-api-version", "2022-11-28")
        if version not in KNOWN_VERSIONS:
            return self._json(
                request,
                400,
                {"message": f"Unsupported API version {version}"},
                "core",
                charge=False,
            )
        path = request.path
        if self.base_path:
            graphql = self.base_path.rsplit("/", 1)[0] + "/graphql"
            if path == graphql:
                path = "/graphql"
            elif path.startswith(self.base_path + "/") or path == self.base_path:
                path = path[len(self.base_path) :] or "/"
            else:
                return self._json(request, 404, _not_found(), "core")
        resource = _resource(path)
        budget = self._budget(token or "anon", resource)
        if injection is not None and injection.kind == "fail":
            return self._json(request, injection.status, {"message": "Server Error"}, resource)
        if injection is not None and injection.kind == "secondary":
            extra = (
                []
                if injection.retry_after is None
                else [("retry-after", str(injection.retry_after))]
            )
            return self._json(
                request,
                injection.status,
                {
                    "message": SECONDARY_LIMIT_MESSAGE,
                    "documentation_url": DOCS,
                },
                resource,
                extra=extra,
            )
        if path != "/rate_limit" and budget.remaining == 0:
            return self._json(
                request,
                403,
                {
                    "message": f"API rate limit exceeded for {self._login(token) or 'your IP'}.",
                    "documentation_url": DOCS,
                },
                resource,
                charge=False,
            )
        status, payload, extra = self._route(request, path)
        return self._json(
            request, status, payload, resource, extra=extra, charge=path != "/rate_limit"
        )

    # --- routes -----------------------------------------------------------------------

    def _route(self, request: RecordedRequest, path: str) -> tuple[int, Any, list[tuple[str, str]]]:
        method = request.method
        parts = path.strip("/").split("/") if path != "/" else []
        login = self._login(request.token)
        query = dict(parse_qsl(request.query))
        if not parts:
            return 200, {"current_user_url": self._api("/user")}, []
        if parts == ["user"] and method == "GET":
            if login is None:
                return 401, {"message": "Requires authentication", "documentation_url": DOCS}, []
            return 200, self._user(login), []
        if parts[0] == "users" and len(parts) == 2 and method == "GET":
            return 200, self._user(unquote(parts[1])), []
        if parts == ["rate_limit"]:
            token = request.token or "anon"
            table = {}
            for resource in RESOURCE_LIMITS:
                budget = self._budget(token, resource)
                table[resource] = {
                    "limit": budget.limit,
                    "remaining": budget.remaining,
                    "used": budget.used,
                    "reset": budget.reset,
                }
            return 200, {"resources": table, "rate": table["core"]}, []
        if parts == ["graphql"] and method == "POST":
            return 200, {"data": {"viewer": {"login": login}}}, []
        if parts[:2] == ["search", "issues"]:
            items = [
                i
                for repo in self.repos.values()
                if self._can_read(repo, login)
                for i in repo.issues.values()
            ]
            return (
                200,
                {"total_count": len(items), "incomplete_results": False, "items": items[:30]},
                [],
            )
        repo: FakeRepo | None = None
        rest: list[str] = []
        if parts[0] == "repositories" and len(parts) >= 2:
            repo = next((r for r in self.repos.values() if str(r.id) == parts[1]), None)
            rest = parts[2:]
        elif parts[0] == "repos" and len(parts) >= 3:
            full = f"{unquote(parts[1])}/{unquote(parts[2])}".lower()
            if full in self.renamed and method == "GET":
                moved = self.repos[self.renamed[full]]
                location = self._api(
                    f"/repositories/{moved.id}" + "".join("/" + p for p in parts[3:])
                )
                return (
                    301,
                    {"message": "Moved Permanently", "url": location},
                    [("location", location)],
                )
            repo = self.repos.get(full)
            rest = parts[3:]
        if repo is None or not self._can_read(repo, login):
            return 404, _not_found(), []
        return self._repo_route(request, repo, rest, query, login)

    def _repo_route(
        self,
        request: RecordedRequest,
        repo: FakeRepo,
        rest: list[str],
        query: dict[str, str],
        login: str | None,
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        method = request.method
        if not rest and method == "GET":
            return 200, self._repo_json(repo), []
        if rest == ["issues"] and method == "GET":
            return self._issue_list(request, repo, query)
        if rest == ["issues"] and method == "POST":
            document = _body(request)
            if not isinstance(document, dict) or not isinstance(document.get("title"), str):
                return 422, {"message": "Validation Failed"}, []
            number = max(repo.issues, default=0) + 1
            issue = self._issue(
                repo,
                number,
                document["title"],
                document.get("body") or "",
                "open",
                document.get("labels") or [],
                login or "ghost",
            )
            repo.issues[number] = issue
            return 201, issue, [("location", issue["url"])]
        if len(rest) >= 2 and rest[0] == "issues" and rest[1].isdigit():
            issue = repo.issues.get(int(rest[1]))
            if issue is None:
                return 404, _not_found(), []
            if len(rest) == 2 and method == "GET":
                return (
                    200,
                    self._represent(issue, request.headers.get("accept", "")),
                    [("last-modified", _http_date(issue["updated_at"]))],
                )
            if len(rest) == 2 and method == "PATCH":
                document = _body(request)
                if not isinstance(document, dict):
                    return 400, {"message": "Problems parsing JSON"}, []
                for name in ("title", "body", "state"):
                    if isinstance(document.get(name), str):
                        issue[name] = document[name]
                if isinstance(document.get("labels"), list):
                    issue["labels"] = [self._label(str(label)) for label in document["labels"]]
                issue["updated_at"] = _now_iso()
                return 200, issue, []
            if rest[2:] == ["comments"] and method == "GET":
                return 200, repo.comments.get(issue["number"], []), []
            if rest[2:] == ["comments"] and method == "POST":
                document = _body(request)
                comment = {
                    "id": self._new_id(),
                    "body": (document or {}).get("body", ""),
                    "user": self._user(login or "ghost"),
                }
                repo.comments.setdefault(issue["number"], []).append(comment)
                issue["comments"] += 1
                return 201, comment, []
        if rest[:2] == ["git", "ref"] and len(rest) == 3 and method == "GET":
            ref = unquote(rest[2])
            if ref not in repo.refs:
                return 404, _not_found(), []
            return (
                200,
                {"ref": f"refs/{ref}", "object": {"sha": repo.refs[ref], "type": "commit"}},
                [],
            )
        if rest == ["labels"] and method == "GET":
            names = sorted(
                {label["name"] for issue in repo.issues.values() for label in issue["labels"]}
            )
            return 200, [self._label(name) for name in names], []
        return 404, _not_found(), []

    def _issue_list(
        self, request: RecordedRequest, repo: FakeRepo, query: dict[str, str]
    ) -> tuple[int, Any, list[tuple[str, str]]]:
        state = query.get("state", "open")
        items = [i for _, i in sorted(repo.issues.items()) if state == "all" or i["state"] == state]
        if "labels" in query:
            wanted = set(query["labels"].split(","))
            items = [i for i in items if wanted <= {label["name"] for label in i["labels"]}]
        per_page = min(100, max(1, int(query.get("per_page", "30") or 30)))
        page = max(1, int(query.get("page", "1") or 1))
        last = max(1, -(-len(items) // per_page))
        chunk = [
            self._represent(i, request.headers.get("accept", ""))
            for i in items[(page - 1) * per_page : page * per_page]
        ]
        links = []
        kept = [(k, v) for k, v in parse_qsl(request.query) if k != "page"]

        def url(target: int) -> str:
            params = "&".join(f"{k}={v}" for k, v in [*kept, ("page", str(target))])
            return self._api(f"/repositories/{repo.id}/issues?{params}")

        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links = [f'<{url(page - 1)}>; rel="prev"', *links, f'<{url(1)}>; rel="first"']
        return 200, chunk, [("link", ", ".join(links))] if links else []

    # --- representations --------------------------------------------------------------

    def _json(
        self,
        request: RecordedRequest,
        status: int,
        payload: Any,
        resource: str,
        *,
        extra: Iterable[tuple[str, str]] = (),
        charge: bool = True,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        token = request.token
        budget = self._budget(token or "anon", resource)
        body = json.dumps(payload).encode()
        accept = request.headers.get("accept", "")
        anonymous = token is None
        headers = [
            ("content-type", "application/json; charset=utf-8"),
            ("cache-control", f"{'public' if anonymous else 'private'}, max-age=60, s-maxage=60"),
            ("vary", "Accept, Authorization, Cookie, X-GitHub-OTP"),
            ("x-github-request-id", f"FAKE:{len(self.requests):06d}"),
            (
                "x-github-api-version-selected",
                request.headers.get("x-github-api-version", "2022-11-28"),
            ),
            ("x-github-media-type", _media_type(accept)),
            *extra,
        ]
        if status == 200 and request.method == "GET":
            digest = hashlib.sha256(f"{token or ''}\n{accept}\n".encode() + body).hexdigest()
            etag = f'W/"{digest}"' if anonymous else f'"{digest}"'
            headers.append(("etag", etag))
            if _etag_matches(request.headers.get("if-none-match"), etag):
                # A 304 costs no rate limit: GitHub's documented promise.
                headers = [h for h in headers if h[0] != "content-type"]
                return 304, headers + _ratelimit_headers(budget, resource), b""
        if charge:
            budget.used += 1
        return status, headers + _ratelimit_headers(budget, resource), body

    def _represent(self, issue: dict[str, Any], accept: str) -> dict[str, Any]:
        shown = dict(issue)
        if ".full+" in accept or ".html+" in accept:
            shown["body_html"] = f"<p>{issue['body']}</p>"
        if ".full+" in accept or ".text+" in accept:
            shown["body_text"] = issue["body"]
        if ".html+" in accept or ".text+" in accept:
            shown.pop("body", None)
        return shown

    def _issue(
        self,
        repo: FakeRepo,
        number: int,
        title: str,
        body: str,
        state: str,
        labels: list[str],
        author: str,
    ) -> dict[str, Any]:
        base = self._api(f"/repos/{repo.owner}/{repo.name}")
        now = _now_iso()
        return {
            "id": self._new_id(),
            "node_id": f"I_{number}",
            "url": f"{base}/issues/{number}",
            "repository_url": base,
            "labels_url": f"{base}/issues/{number}/labels{{/name}}",
            "comments_url": f"{base}/issues/{number}/comments",
            "events_url": f"{base}/issues/{number}/events",
            "html_url": f"https://github.com/{repo.owner}/{repo.name}/issues/{number}",
            "number": number,
            "state": state,
            "state_reason": None,
            "title": title,
            "body": body,
            "user": self._user(author),
            "labels": [self._label(name) for name in labels],
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "locked": False,
            "active_lock_reason": None,
            "comments": 0,
            "closed_at": None,
            "created_at": now,
            "updated_at": now,
            "author_association": "OWNER",
        }

    def _repo_json(self, repo: FakeRepo) -> dict[str, Any]:
        base = self._api(f"/repos/{repo.owner}/{repo.name}")
        web = f"https://github.com/{repo.owner}/{repo.name}"
        # Every hypermedia URL GitHub sends, so strict clients (githubkit) can parse it.
        templates = {
            "archive_url": "/{archive_format}{/ref}",
            "assignees_url": "/assignees{/user}",
            "blobs_url": "/git/blobs{/sha}",
            "branches_url": "/branches{/branch}",
            "collaborators_url": "/collaborators{/collaborator}",
            "comments_url": "/comments{/number}",
            "commits_url": "/commits{/sha}",
            "compare_url": "/compare/{base}...{head}",
            "contents_url": "/contents/{+path}",
            "contributors_url": "/contributors",
            "deployments_url": "/deployments",
            "downloads_url": "/downloads",
            "events_url": "/events",
            "forks_url": "/forks",
            "git_commits_url": "/git/commits{/sha}",
            "git_refs_url": "/git/refs{/sha}",
            "git_tags_url": "/git/tags{/sha}",
            "hooks_url": "/hooks",
            "issue_comment_url": "/issues/comments{/number}",
            "issue_events_url": "/issues/events{/number}",
            "issues_url": "/issues{/number}",
            "keys_url": "/keys{/key_id}",
            "labels_url": "/labels{/name}",
            "languages_url": "/languages",
            "merges_url": "/merges",
            "milestones_url": "/milestones{/number}",
            "notifications_url": "/notifications{?since,all,participating}",
            "pulls_url": "/pulls{/number}",
            "releases_url": "/releases{/id}",
            "stargazers_url": "/stargazers",
            "statuses_url": "/statuses/{sha}",
            "subscribers_url": "/subscribers",
            "subscription_url": "/subscription",
            "tags_url": "/tags",
            "teams_url": "/teams",
            "trees_url": "/git/trees{/sha}",
        }
        open_issues = sum(1 for i in repo.issues.values() if i["state"] == "open")
        return {
            "id": repo.id,
            "node_id": f"R_{repo.id}",
            "name": repo.name,
            "full_name": f"{repo.owner}/{repo.name}",
            "private": repo.private,
            "owner": self._user(repo.owner),
            "html_url": web,
            "description": None,
            "fork": False,
            "url": base,
            **{name: base + suffix for name, suffix in templates.items()},
            "git_url": f"git://github.com/{repo.owner}/{repo.name}.git",
            "ssh_url": f"git@github.com:{repo.owner}/{repo.name}.git",
            "clone_url": f"{web}.git",
            "svn_url": web,
            "mirror_url": None,
            "homepage": None,
            "language": "Python",
            "forks_count": 0,
            "forks": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "watchers": 0,
            "subscribers_count": 0,
            "network_count": 0,
            "size": 1,
            "default_branch": "main",
            "open_issues_count": open_issues,
            "open_issues": open_issues,
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if repo.private else "public",
            "license": None,
            "pushed_at": "2020-01-01T00:00:00Z",
            "created_at": "2020-01-01T00:00:00Z",
            "updated_at": "2020-01-01T00:00:00Z",
        }

    def _user(self, login: str) -> dict[str, Any]:
        user_id = next((uid for name, uid in self.users.values() if name == login), 1)
        return {
            "login": login,
            "id": user_id,
            "node_id": f"U_{user_id}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}",
            "gravatar_id": "",
            "url": self._api(f"/users/{login}"),
            "html_url": f"https://github.com/{login}",
            **{
                name: self._api(f"/users/{login}/{suffix}")
                for name, suffix in (
                    ("followers_url", "followers"),
                    ("following_url", "following{/other_user}"),
                    ("gists_url", "gists{/gist_id}"),
                    ("starred_url", "starred{/owner}{/repo}"),
                    ("subscriptions_url", "subscriptions"),
                    ("organizations_url", "orgs"),
                    ("repos_url", "repos"),
                    ("events_url", "events{/privacy}"),
                    ("received_events_url", "received_events"),
                )
            },
            "type": "User",
            "site_admin": False,
        }

    def _label(self, name: str) -> dict[str, Any]:
        return {
            "id": abs(hash(name)) % 10**8,
            "node_id": f"L_{name}",
            "name": name,
            "color": "ededed",
            "default": False,
            "description": None,
            "url": self._api(f"/labels/{name}"),
        }

    # --- helpers ----------------------------------------------------------------------

    def _api(self, path: str) -> str:
        return f"{self.public_origin}{self.base_path}{path}"

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _repo(self, owner: str, name: str) -> FakeRepo:
        return self.repos[f"{owner}/{name}".lower()]

    def _login(self, token: str | None) -> str | None:
        return None if token is None or token not in self.users else self.users[token][0]

    def _can_read(self, repo: FakeRepo, login: str | None) -> bool:
        return not repo.private or (login is not None and login in repo.readers)

    def _budget(self, key: str, resource: str) -> _Budget:
        limit = (
            ANONYMOUS_LIMIT
            if key == "anon" and resource == "core"
            else RESOURCE_LIMITS.get(resource, 5000)
        )
        return self._budgets.setdefault((key, resource), _Budget(limit))


def _token(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() in ("token", "bearer") else None


def _resource(path: str) -> str:
    if path == "/graphql":
        return "graphql"
    if path.startswith("/search/code"):
        return "code_search"
    if path.startswith("/search/"):
        return "search"
    return "core"


def _ratelimit_headers(budget: _Budget, resource: str) -> list[tuple[str, str]]:
    return [
        ("x-ratelimit-limit", str(budget.limit)),
        ("x-ratelimit-remaining", str(budget.remaining)),
        ("x-ratelimit-used", str(budget.used)),
        ("x-ratelimit-reset", str(budget.reset)),
        ("x-ratelimit-resource", resource),
    ]


def _etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    ours = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == ours for tag in if_none_match.split(","))


def _media_type(accept: str) -> str:
    for kind in ("raw", "text", "html", "full"):
        if f".{kind}+" in accept:
            return f"github.v3; param={kind}; format=json"
    return "github.v3; format=json"


def _not_found() -> dict[str, str]:
    return {"message": "Not Found", "documentation_url": DOCS}


def _body(request: RecordedRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        return None


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _http_date(iso: str) -> str:
    parsed = time.strptime(iso, "%Y-%m-%dT%H:%M:%SZ")
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", parsed)
