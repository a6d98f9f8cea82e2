"""A fake of GitHub's REST API, faithful where the gateway's tests count on it.

The gateway's tests prove behaviour by counting requests here, so the fake answers as GitHub
documents, not merely plausibly:

* ETags hash the token, the `Accept` header and the body, so one resource has a different
  ETag per caller and per media type (weak for anonymous callers); a matching
  `If-None-Match` is a 304 that costs no rate limit.
* Every answer carries `x-ratelimit-*` from per-token, per-resource budgets (core, search,
  graphql); a spent budget is a 403 with `x-ratelimit-remaining: 0`.
* Lists paginate with absolute `Link` headers in GitHub's `/repositories/{id}/...` form.
* Routing is on the raw path, so `heads%2Ffeature-x` is one segment, as on GitHub.
* The OAuth web flow (`/login/oauth/authorize`, `/login/oauth/access_token`) with single-use
  codes, redirect-URI and PKCE S256 checks, and GitHub's error answers (HTTP 200 with an
  `error` field); a repository's answer carries the caller's `permissions`.
* A test can inject 5xx answers, secondary limits, dropped connections and slow answers, or
  hold requests and await "N are held" (an asyncio condition, never a sleep), then release.

`fake.app` runs in process (`httpx.ASGITransport(app=fake.app)`) or over real HTTP
(`tests.fakes.serving.serve(fake.app)`). The JSON objects are built in `github_data.py`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import calendar
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode

import httpx
from starlette.types import Receive, Scope, Send

from tests.fakes.github_data import (
    DOCS,
    FakeComment,
    FakeIssue,
    FakeRepo,
    Render,
    http_date,
    iso,
)

__all__ = ["DroppedConnection", "FakeGitHub", "FakeIssue", "FakeRepo", "RecordedRequest"]

DEFAULT_ORIGIN = "http://fake-github.test"
DEFAULT_VERSION = "2022-11-28"
KNOWN_VERSIONS = ("2022-11-28", "2026-03-10")
# resource -> (limit with a token, limit anonymously, window in seconds)
RESOURCES = {
    "core": (5000, 60, 3600),
    "search": (30, 10, 60),
    "code_search": (10, 10, 60),
    "graphql": (5000, 0, 3600),
}
RATE_LIMIT_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
SECONDARY_LIMIT_DOCS = RATE_LIMIT_DOCS + "#about-secondary-rate-limits"
_ISSUE_MEDIA = re.compile(r"application/vnd\.github(?:\.v3)?\.(raw|text|html|full)\+json")


class DroppedConnection(httpx.RemoteProtocolError):
    """Raised by the app for `drop_next`.

    Over a socket the server closes it and the client sees httpx.RemoteProtocolError; in
    process (ASGITransport re-raises app errors) the client sees this subclass of it.
    """


@dataclass
class RecordedRequest:
    """One request as the fake received it; `status` is filled in when it is answered."""

    method: str
    path: str  # raw, still percent-encoded, without the query
    query: str  # raw
    headers: dict[str, str]  # lower-case names
    token: str | None
    body: bytes
    status: int | None = None  # None until answered, and for a dropped connection
    host: str = ""
    request_id: str = ""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Grant:
    """An authorization code GitHub has issued and not yet exchanged."""

    client_id: str
    redirect_uri: str
    challenge: str | None
    login: str
    scope: str
    expires: float


@dataclass
class _Budget:
    limit: int
    window: int
    reset: int
    used: int = 0

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    def renew_if_due(self, now: int) -> None:
        if now >= self.reset:
            self.used = 0
            self.reset = now + self.window


@dataclass
class _Injection:
    kind: Literal["fail", "secondary", "drop", "delay"]
    left: int
    path: str | None
    status: int = 500
    retry_after: int | None = None
    seconds: float = 0.0


@dataclass
class _Reply:
    status: int
    payload: Any = None
    headers: list[tuple[str, str]] = field(default_factory=list)


def _error(status: int, message: str, **extra: Any) -> _Reply:
    docs = extra.pop("documentation_url", DOCS)
    return _Reply(
        status,
        {"message": message, **extra, "documentation_url": docs, "status": str(status)},
    )


def _not_found() -> _Reply:
    return _error(404, "Not Found")


class _App:
    """The fake as an ASGI 3 object: uvicorn recognises an async `__call__` (a bound method
    would be taken for ASGI 2 unless the server is told otherwise)."""

    def __init__(self, fake: FakeGitHub) -> None:
        self.fake = fake

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.fake._handle(scope, receive, send)


class FakeGitHub:
    """api.github.com (base_path "") or GitHub Enterprise Server (base_path "/api/v3")."""

    def __init__(self, *, base_path: str = "", public_origin: str | None = None) -> None:
        self.base_path = base_path.rstrip("/")
        self.public_origin = public_origin or DEFAULT_ORIGIN
        self.app = _App(self)
        self.requests: list[RecordedRequest] = []
        self.repos: dict[str, FakeRepo] = {}  # lower-case full name -> repo
        self._logins: dict[str, str] = {}  # token -> login
        self._user_ids: dict[str, int] = {}  # login -> id
        self._renamed: dict[str, FakeRepo] = {}  # old lower-case full name -> repo
        self._budgets: dict[tuple[str, str], _Budget] = {}
        self._outcomes: list[_Injection] = []
        self._delays: list[_Injection] = []
        self._holding = False
        self._hold_path: str | None = None
        self._gate = asyncio.Event()
        self._held = 0
        self._held_changed = asyncio.Condition()
        self._next_id = 1000
        self._last_stamp = 0
        self._documents: dict[str, Any] = {}  # lower-case API path -> JSON served as is
        self._oauth_apps: dict[str, str] = {}  # client id -> secret
        self._grants: dict[str, _Grant] = {}  # code -> what it was issued for
        self.signed_in: str | None = None  # who the browser is signed in to github.com as
        self._app: tuple[str, bytes, int] | None = None
        self.app_token_ttl_s = 3600

    # --- set-up -----------------------------------------------------------------------

    def add_user(self, token: str, login: str, *, user_id: int | None = None) -> None:
        self._logins[token] = login
        if user_id is not None:
            self._user_ids[login] = user_id
        else:
            self._user_id(login)

    def add_oauth_app(self, client_id: str, client_secret: str) -> None:
        self._oauth_apps[client_id] = client_secret

    def add_app(
        self, app_id: str, public_key_pem: bytes, installation_id: int, *, token_ttl_s: int = 3600
    ) -> None:
        """A GitHub App installed once; its installation tokens read as `{slug}[bot]`."""
        self._app = (app_id, public_key_pem, installation_id)
        self.app_token_ttl_s = token_ttl_s

    def sign_in(self, login: str | None) -> None:
        """Who approves the next authorize request, as if signed in to github.com."""
        self.signed_in = login
        if login is not None:
            self._user_id(login)

    def tokens(self) -> dict[str, tuple[str, int]]:
        """Every user token: token -> (login, user id)."""
        return {token: (login, self._user_id(login)) for token, login in self._logins.items()}

    def add_repo(
        self,
        owner: str,
        name: str,
        *,
        private: bool = False,
        readers: Iterable[str] = (),
        writers: Iterable[str] = (),
        repo_id: int | None = None,
    ) -> FakeRepo:
        """Add a repository with `heads/main` and `heads/feature-x` refs. The owner is its
        admin, `writers` may push, `readers` may read it when private."""
        repo = FakeRepo(
            id=repo_id or self._new_id(),
            owner=owner,
            name=name,
            private=private,
            readers=set(readers),
            writers=set(writers),
            created_at=self._tick(),
            refs={"heads/main": "a" * 40, "heads/feature-x": "b" * 40},
        )
        self._user_id(owner)
        self.repos[repo.full_name.lower()] = repo
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
        author: str | None = None,
    ) -> dict[str, Any]:
        """Add an issue (by the owner unless `author` is given) and return its JSON.

        Giving the `number` of an existing issue edits it, as someone on github.com would.
        """
        repo = self._repo(owner, name)
        existing = repo.issues.get(number) if number is not None else None
        if existing is not None:
            existing.title, existing.body = title, body
            existing.labels = self._labels(repo, labels)
            self._set_state(existing, state)
            existing.updated_at = self._tick()
            return self._render().issue(repo, existing)
        stamp = self._tick()
        issue = FakeIssue(
            id=self._new_id(),
            number=number or max(repo.issues, default=0) + 1,
            title=title,
            body=body,
            state="open",
            labels=self._labels(repo, labels),
            author=author or owner,
            created_at=stamp,
            updated_at=stamp,
        )
        self._set_state(issue, state)
        repo.issues[issue.number] = issue
        return self._render().issue(repo, issue)

    def edit_issue(self, owner: str, name: str, number: int, **fields: Any) -> dict[str, Any]:
        """Change an issue as someone on github.com would (title, body, labels, assignees,
        state, milestone) and return its JSON; `updated_at` moves."""
        repo = self._repo(owner, name)
        issue = repo.issues[number]
        if "title" in fields:
            issue.title = fields["title"]
        if "body" in fields:
            issue.body = fields["body"]
        if "labels" in fields:
            issue.labels = self._labels(repo, fields["labels"])
        if "assignees" in fields:
            issue.assignees = list(fields["assignees"])
        if "milestone" in fields:
            issue.milestone = fields["milestone"]
        if "state" in fields:
            self._set_state(issue, fields["state"], fields.get("state_reason"))
        issue.updated_at = self._tick()
        return self._render().issue(repo, issue)

    def add_milestone(self, owner: str, name: str, number: int, title: str) -> None:
        self._repo(owner, name).milestones[number] = title

    def issue(self, owner: str, name: str, number: int) -> dict[str, Any]:
        """An issue's JSON as GitHub holds it now (no request is counted)."""
        repo = self._repo(owner, name)
        return self._render().issue(repo, repo.issues[number])

    def add_document(self, path: str, payload: Any) -> None:
        """Serve `payload` at an exact API path (GET, with ETags) to anyone: for endpoints
        the fake does not model, whose contents a test does not care about."""
        self._documents[path.lower()] = payload

    def rename_repo(self, owner: str, old: str, new: str) -> None:
        """Rename: the old name then answers 301 to `/repositories/{id}` (307 for writes)."""
        repo = self.repos.pop(f"{owner}/{old}".lower())
        repo.name = new
        self.repos[repo.full_name.lower()] = repo
        self._renamed[f"{owner}/{old}".lower()] = repo
        self._renamed.pop(repo.full_name.lower(), None)

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
        """Set a budget; `token=None` is the anonymous (per-IP) one."""
        budget = self._budget(token or "anon", resource)
        if limit is not None:
            budget.limit = limit
        if remaining is not None:
            budget.used = max(0, budget.limit - remaining)
        if reset is not None:
            budget.reset = reset

    def rate_limit(self, token: str | None, resource: str = "core") -> tuple[int, int, int]:
        """(limit, remaining, used) of a budget."""
        budget = self._budget(token or "anon", resource)
        return budget.limit, budget.remaining, budget.used

    # --- observation ------------------------------------------------------------------

    def count(self, method: str | None = None, path: str | None = None) -> int:
        """Requests received with this method and raw path (with or without the base path)."""
        return sum(
            1
            for request in self.requests
            if (method is None or request.method == method.upper()) and self._matches(path, request)
        )

    # --- failure injection and holding ------------------------------------------------

    def fail_next(self, n: int = 1, *, status: int = 500, path: str | None = None) -> None:
        """Answer the next `n` matching requests with `status` and a GitHub-like body."""
        assert status >= 500, "fail_next injects server errors"
        self._outcomes.append(_Injection("fail", n, path, status=status))

    def secondary_limit_next(
        self,
        n: int = 1,
        *,
        retry_after: int | None = 60,
        status: int = 403,
        path: str | None = None,
    ) -> None:
        """Answer the next `n` matching requests as GitHub's secondary rate limit does."""
        assert status in (403, 429), "GitHub answers a secondary limit with 403 or 429"
        self._outcomes.append(
            _Injection("secondary", n, path, status=status, retry_after=retry_after)
        )

    def drop_next(self, n: int = 1, *, path: str | None = None) -> None:
        """Close the connection on the next `n` matching requests without answering."""
        self._outcomes.append(_Injection("drop", n, path))

    def delay_next(self, n: int, seconds: float, *, path: str | None = None) -> None:
        """Answer the next `n` matching requests `seconds` late (a slow GitHub)."""
        self._delays.append(_Injection("delay", n, path, seconds=seconds))

    def hold(self, path: str | None = None) -> None:
        """From now on, matching requests (all when `path` is None) wait until `release()`."""
        if not self._holding:
            self._gate = asyncio.Event()
        self._holding = True
        self._hold_path = path

    @property
    def held(self) -> int:
        """How many requests are waiting now."""
        return self._held

    async def wait_held(self, n: int, timeout: float = 5.0) -> None:
        """Return once `n` requests are held; TimeoutError if they are not within `timeout`."""
        try:
            async with asyncio.timeout(timeout), self._held_changed:
                await self._held_changed.wait_for(lambda: self._held >= n)
        except TimeoutError:
            raise TimeoutError(f"{self._held} of {n} requests held after {timeout}s") from None

    def release(self) -> None:
        """Let every held request go on, and hold no more."""
        self._holding = False
        self._gate.set()

    def transport(self) -> httpx.AsyncBaseTransport:
        """An httpx transport to the fake in process."""
        return httpx.ASGITransport(app=self.app)

    # --- the ASGI app -----------------------------------------------------------------

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = await self._record(scope, receive)
        app_route = request.path.startswith(self.base_path + "/app/installations/")
        if request.path.startswith("/login/oauth/") or app_route:
            status, headers, body = self._app_token(request) if app_route else self._oauth(request)
            request.status = status
            await _reply(send, status, headers, body)
            return
        outcome = self._take(self._outcomes, request)
        delay = self._take(self._delays, request)
        await self._maybe_hold(request)
        if delay is not None:
            await asyncio.sleep(delay.seconds)  # a slow GitHub, not synchronisation
        if outcome is not None and outcome.kind == "drop":
            await _drop(send)
            return
        status, headers, body = self._respond(request, scope, outcome)
        request.status = status
        await _reply(send, status, headers, body)

    async def _record(self, scope: Scope, receive: Receive) -> RecordedRequest:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        headers: dict[str, str] = {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        raw_path = scope.get("raw_path") or scope["path"].encode()
        request = RecordedRequest(
            method=scope["method"],
            path=raw_path.decode("latin-1").split("?", 1)[0],
            query=scope["query_string"].decode("latin-1"),
            headers=headers,
            token=_credential(headers.get("authorization")),
            body=b"".join(chunks),
            host=headers.get("host", ""),
            request_id=f"FAKE:{len(self.requests) + 1:06X}",
        )
        self.requests.append(request)
        return request

    async def _maybe_hold(self, request: RecordedRequest) -> None:
        if not self._holding or not self._matches(self._hold_path, request):
            return
        gate = self._gate
        async with self._held_changed:
            self._held += 1
            self._held_changed.notify_all()
        try:
            await gate.wait()
        finally:
            self._held -= 1

    def _matches(self, path: str | None, request: RecordedRequest) -> bool:
        return path is None or request.path in (path, self.base_path + path)

    def _take(self, queue: list[_Injection], request: RecordedRequest) -> _Injection | None:
        for injection in queue:
            if injection.left > 0 and self._matches(injection.path, request):
                injection.left -= 1
                return injection
        return None

    # --- protocol: auth, versions, limits, conditional requests, headers --------------

    def _respond(
        self, request: RecordedRequest, scope: Scope, outcome: _Injection | None
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Status, headers and body: injected failures first, then authentication, the API
        version, the primary rate limit, and finally the route."""
        api_path = self._api_path(request.path)
        resource = _resource(api_path or "")
        known = request.token is None or request.token in self._logins
        budget = self._budget(request.token if known and request.token else "anon", resource)
        budget.renew_if_due(int(time.time()))
        charge = False
        if outcome is not None and outcome.kind == "fail":
            reply = _error(outcome.status, HTTPStatus(outcome.status).phrase)
        elif outcome is not None and outcome.kind == "secondary":
            reply = _error(
                outcome.status,
                "You have exceeded a secondary rate limit. Please wait a few minutes before "
                "you try again. If you reach out to GitHub Support for help, please include "
                f"the request ID {request.request_id}.",
                documentation_url=SECONDARY_LIMIT_DOCS,
            )
            if outcome.retry_after is not None:
                reply.headers.append(("retry-after", str(outcome.retry_after)))
        elif not known:
            reply, charge = _error(401, "Bad credentials"), True  # spends the IP's budget
        elif _version(request) not in KNOWN_VERSIONS:
            supported = ", ".join(f'"{each}"' for each in KNOWN_VERSIONS)
            reply = _error(
                400,
                'The version you specified in the "X-GitHub-Api-Version" request header, '
                f'"{_version(request)}", is not a supported version. The following versions '
                f"are currently supported: {supported}.",
            )
        elif api_path != "/rate_limit" and budget.remaining == 0:
            login = self._login(request.token)
            client = scope.get("client") or ("127.0.0.1", 0)
            who = f"user ID {self._user_id(login)}" if login else str(client[0])
            reply = _error(
                403, f"API rate limit exceeded for {who}.", documentation_url=RATE_LIMIT_DOCS
            )
        else:
            reply = _not_found() if api_path is None else self._route(request, api_path)
            charge = api_path != "/rate_limit"  # /rate_limit is free, as on GitHub
        status, headers, body = self._answer(request, reply)
        if charge and status != 304:  # a 304 is free: GitHub's promise for conditional requests
            budget.used += 1
        return status, headers + _ratelimit_headers(budget, resource), body

    def _answer(
        self, request: RecordedRequest, reply: _Reply
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """The reply on the wire (but for the rate-limit headers), or a 304 when it matches."""
        accept = request.headers.get("accept", "")
        anonymous = request.token is None
        body = json.dumps(reply.payload, separators=(",", ":")).encode()
        headers = [
            ("content-type", "application/json; charset=utf-8"),
            ("cache-control", f"{'public' if anonymous else 'private'}, max-age=60, s-maxage=60"),
            ("vary", "Accept, Authorization, Cookie, X-GitHub-OTP"),
            ("x-github-media-type", _media_type_header(accept)),
            ("x-github-request-id", request.request_id),
        ]
        if _version(request) in KNOWN_VERSIONS:
            headers.append(("x-github-api-version-selected", _version(request)))
        if self.base_path:
            headers.append(("x-github-enterprise-version", "3.17.0"))
        headers += reply.headers
        if reply.status == 200 and request.method in ("GET", "HEAD"):
            digest = hashlib.sha256(
                b"\0".join([(request.token or "").encode(), accept.encode(), body])
            ).hexdigest()
            etag = f'W/"{digest}"' if anonymous else f'"{digest}"'
            headers.append(("etag", etag))
            if _not_modified(request.headers, etag, dict(reply.headers).get("last-modified")):
                return 304, [h for h in headers if h[0] != "content-type"], b""
        headers.append(("content-length", str(len(body))))
        return reply.status, headers, b"" if request.method == "HEAD" else body

    # --- GitHub App installation tokens ---------------------------------------------------

    def _app_token(self, request: RecordedRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        """`POST /app/installations/{id}/access_tokens`, authorised by the App's RS256 JWT."""
        import jwt

        def reply(status: int, payload: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
            return status, [("content-type", "application/json")], json.dumps(payload).encode()

        segments = request.path[len(self.base_path) :].split("/")
        if self._app is None or request.method != "POST" or segments[4:] != ["access_tokens"]:
            return reply(404, {"message": "Not Found"})
        app_id, public_key, installation_id = self._app
        try:
            claims = jwt.decode(
                (request.token or ""),
                public_key,
                algorithms=["RS256"],
                options={"require": ["iat", "exp", "iss"]},
            )
        except jwt.InvalidTokenError:
            return reply(401, {"message": "A JSON web token could not be decoded"})
        if str(claims["iss"]) != app_id or claims["exp"] - claims["iat"] > 660:
            return reply(
                401, {"message": "'Expiration time' claim ('exp') is too far in the future"}
            )
        if segments[3] != str(installation_id):
            return reply(404, {"message": "Not Found"})
        token = "ghs_" + binascii.hexlify(os.urandom(18)).decode()
        self._logins[token] = "hubbub[bot]"
        expires = time.time() + self.app_token_ttl_s
        return reply(
            201, {"token": token, "expires_at": iso(int(expires)), "repository_selection": "all"}
        )

    # --- OAuth web flow (github.com/login/oauth/*) -------------------------------------

    def _oauth(self, request: RecordedRequest) -> tuple[int, list[tuple[str, str]], bytes]:
        if request.method == "GET" and request.path == "/login/oauth/authorize":
            return self._authorize(_query(request.query))
        if request.method == "POST" and request.path == "/login/oauth/access_token":
            reply = self._exchange(request)
            if "json" in request.headers.get("accept", ""):
                return 200, [("content-type", "application/json")], json.dumps(reply).encode()
            form = urlencode(reply).encode()
            return 200, [("content-type", "application/x-www-form-urlencoded")], form
        return 404, [("content-type", "text/plain")], b"Not Found"

    def _authorize(self, query: dict[str, str]) -> tuple[int, list[tuple[str, str]], bytes]:
        redirect_uri, state = query.get("redirect_uri", ""), query.get("state")
        if query.get("client_id") not in self._oauth_apps or not redirect_uri:
            return 404, [("content-type", "text/plain")], b"Not Found"
        if self.signed_in is None:
            return 200, [("content-type", "text/html")], b"<form>Sign in to GitHub</form>"
        method = query.get("code_challenge_method")
        if query.get("code_challenge") and method != "S256":
            return 400, [("content-type", "text/plain")], b"code_challenge_method must be S256"
        code = binascii.hexlify(os.urandom(10)).decode()
        self._grants[code] = _Grant(
            client_id=query["client_id"],
            redirect_uri=redirect_uri,
            challenge=query.get("code_challenge"),
            login=self.signed_in,
            scope=query.get("scope", ""),
            expires=time.time() + 600,
        )
        answer = {"code": code, **({"state": state} if state is not None else {})}
        joiner = "&" if "?" in redirect_uri else "?"
        return 302, [("location", redirect_uri + joiner + urlencode(answer))], b""

    def _exchange(self, request: RecordedRequest) -> dict[str, str]:
        content_type = request.headers.get("content-type", "")
        if "json" in content_type:
            params = {k: str(v) for k, v in (_json_body(request) or {}).items()}
        else:
            params = dict(parse_qsl(request.body.decode()))
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            client_id, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
            params.setdefault("client_id", client_id)
            params.setdefault("client_secret", secret)
        client_id = params.get("client_id", "")
        if (
            client_id not in self._oauth_apps
            or params.get("client_secret") != self._oauth_apps[client_id]
        ):
            return {"error": "incorrect_client_credentials"}
        grant = self._grants.pop(params.get("code", ""), None)  # a code works once
        if grant is None or grant.client_id != client_id or grant.expires < time.time():
            return {"error": "bad_verification_code"}
        if params.get("redirect_uri") and params["redirect_uri"] != grant.redirect_uri:
            return {"error": "redirect_uri_mismatch"}
        if grant.challenge is not None:
            verifier = params.get("code_verifier", "")
            computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
            if computed.decode().rstrip("=") != grant.challenge:
                return {"error": "bad_verification_code"}
        token = "gho_" + binascii.hexlify(os.urandom(18)).decode()
        self._logins[token] = grant.login
        return {"access_token": token, "token_type": "bearer", "scope": grant.scope}

    def _api_path(self, raw_path: str) -> str | None:
        """The path under the API root, or None when it is outside (GHES: not /api/v3)."""
        if not self.base_path:
            return raw_path or "/"
        if raw_path == self.base_path.rsplit("/", 1)[0] + "/graphql":
            return "/graphql"  # GHES serves GraphQL at /api/graphql, beside /api/v3
        if raw_path == self.base_path:
            return "/"
        if raw_path.startswith(self.base_path + "/"):
            rest = raw_path[len(self.base_path) :]
            return None if rest == "/graphql" else rest
        return None

    # --- routes -----------------------------------------------------------------------

    def _route(self, request: RecordedRequest, api_path: str) -> _Reply:
        method = "GET" if request.method == "HEAD" else request.method
        segments = [] if api_path == "/" else api_path.split("/")[1:]
        login = self._login(request.token)
        render = self._render(request)
        if method == "GET" and api_path.lower() in self._documents:
            return _Reply(200, self._documents[api_path.lower()])
        match method, segments:
            case "GET", []:
                return _Reply(200, render.root())
            case "GET", ["user"]:
                if login is None:
                    return _error(401, "Requires authentication")
                return _Reply(200, render.user(login, full=True))
            case "GET", ["user", "repos"]:
                if login is None:
                    return _error(401, "Requires authentication")
                mine = [
                    {**render.repo(repo), "permissions": self._permissions(repo, login)}
                    for repo in self.repos.values()
                    # As GitHub: the repositories the user owns or was added to.
                    if login in {repo.owner, *repo.readers, *repo.writers}
                ]
                return self._page(request, mine, "/user/repos")
            case "GET", ["users", name]:
                name = unquote(name)
                known = {each.lower() for each in self._user_ids}
                if name.lower() not in known:
                    return _not_found()
                return _Reply(200, render.user(self._canonical_login(name), full=True))
            case "GET", ["rate_limit"]:
                return _Reply(200, self._rate_limit_table(request.token))
            case "POST", ["graphql"]:
                if login is None:
                    return _error(401, "This endpoint requires you to be authenticated.")
                if not isinstance(_json_body(request), dict):
                    return _error(400, "Problems parsing JSON")
                return _Reply(200, {"data": {"viewer": {"login": login}}})
            case "GET", ["search", "issues"]:
                return self._search_issues(request, render, login)
            case _, ["repos", owner, name, *rest]:
                return self._by_name(request, unquote(owner), unquote(name), rest, login)
            case _, ["repositories", repo_id, *rest] if repo_id.isdigit():
                found = next((r for r in self.repos.values() if r.id == int(repo_id)), None)
                if found is None or not self._can_read(found, login):
                    return _not_found()
                return self._repo_route(request, found, rest, login)
        return _not_found()

    def _by_name(
        self, request: RecordedRequest, owner: str, name: str, rest: list[str], login: str | None
    ) -> _Reply:
        key = f"{owner}/{name}".lower()
        repo = self.repos.get(key)
        moved = self._renamed.get(key) if repo is None else None
        if moved is not None and self._can_read(moved, login):
            location = self._api(f"/repositories/{moved.id}" + "".join(f"/{s}" for s in rest))
            location += f"?{request.query}" if request.query else ""
            if request.method in ("GET", "HEAD"):
                reply = _error(301, "Moved Permanently", url=location)
            else:
                reply = _error(307, "Temporary Redirect", url=location)
            reply.headers.append(("location", location))
            return reply
        if repo is None or not self._can_read(repo, login):
            return _not_found()
        return self._repo_route(request, repo, rest, login)

    def _repo_route(
        self, request: RecordedRequest, repo: FakeRepo, rest: list[str], login: str | None
    ) -> _Reply:
        method = "GET" if request.method == "HEAD" else request.method
        render = self._render(request)
        if method in ("POST", "PATCH") and login is None:
            return _error(401, "Requires authentication")
        match method, rest:
            case "GET", []:
                document = render.repo(repo)
                if login is not None:
                    document["permissions"] = self._permissions(repo, login)
                return _Reply(200, document)
            case "GET", ["issues"]:
                return self._list_issues(request, render, repo)
            case "POST", ["issues"]:
                return self._create_issue(request, render, repo, login or "ghost")
            case "GET", ["issues", "comments", comment_id] if comment_id.isdigit():
                for issue in repo.issues.values():
                    for comment in issue.comments:
                        if comment.id == int(comment_id):
                            return _Reply(200, render.comment(repo, issue, comment))
                return _not_found()
            case "GET" | "PATCH", ["issues", number] if number.isdigit():
                issue = repo.issues.get(int(number))
                if issue is None:
                    return _not_found()
                if method == "PATCH":
                    return self._edit_issue(request, render, repo, issue, login or "ghost")
                return _Reply(
                    200,
                    render.issue(repo, issue),
                    [("last-modified", http_date(issue.updated_at))],
                )
            case "GET" | "POST", ["issues", number, "comments"] if number.isdigit():
                issue = repo.issues.get(int(number))
                if issue is None:
                    return _not_found()
                if method == "POST":
                    return self._add_comment(request, render, repo, issue, login or "ghost")
                comments = [render.comment(repo, issue, c) for c in issue.comments]
                return self._page(request, comments, f"/repositories/{repo.id}{_tail(rest)}")
            case "GET", ["git", "ref", ref]:
                sha = repo.refs.get(unquote(ref))
                if sha is None:
                    return _not_found()
                return _Reply(200, render.ref(repo, unquote(ref), sha))
            case "GET", ["labels"]:
                labels = [render.label(repo, name) for name in repo.labels]
                return self._page(request, labels, f"/repositories/{repo.id}/labels")
        return _not_found()

    def _list_issues(self, request: RecordedRequest, render: Render, repo: FakeRepo) -> _Reply:
        query = _query(request.query)
        state = query.get("state", "open")
        issues = [issue for issue in repo.issues.values() if state == "all" or issue.state == state]
        if query.get("labels"):
            wanted = {name.strip().lower() for name in query["labels"].split(",")}
            issues = [i for i in issues if wanted <= {name.lower() for name in i.labels}]
        if query.get("since"):
            since = _parse_iso(query["since"])
            issues = [i for i in issues if since is None or i.updated_at >= since]
        sort = query.get("sort", "created")
        order = {
            "updated": lambda i: (i.updated_at, i.number),
            "comments": lambda i: (len(i.comments), i.number),
        }.get(sort, lambda i: (i.created_at, i.number))
        # Newest first unless the caller asks otherwise, as GitHub does.
        issues.sort(key=order, reverse=query.get("direction", "desc") == "desc")
        items = [render.issue(repo, issue) for issue in issues]
        return self._page(request, items, f"/repositories/{repo.id}/issues")

    def _create_issue(
        self, request: RecordedRequest, render: Render, repo: FakeRepo, login: str
    ) -> _Reply:
        document = _json_body(request)
        if not isinstance(document, dict):
            return _error(400, "Problems parsing JSON")
        if not isinstance(document.get("title"), str) or not document["title"]:
            return _validation_failed("Issue", "title", "missing_field")
        stamp = self._tick()
        issue = FakeIssue(
            id=self._new_id(),
            number=max(repo.issues, default=0) + 1,
            title=str(document["title"]),
            body=str(document.get("body") or ""),
            state="open",
            labels=self._labels(repo, _label_names(document.get("labels"))),
            author=login,
            created_at=stamp,
            updated_at=stamp,
        )
        repo.issues[issue.number] = issue
        shown = render.issue(repo, issue)
        return _Reply(201, shown, [("location", shown["url"])])

    def _edit_issue(
        self,
        request: RecordedRequest,
        render: Render,
        repo: FakeRepo,
        issue: FakeIssue,
        login: str,
    ) -> _Reply:
        """As GitHub: the author may edit their issue's title and body; everything else,
        and other people's issues, needs push access. Too long a title or body, an unknown
        milestone or state is a 422; assignees who cannot be assigned are dropped."""
        document = _json_body(request)
        if not isinstance(document, dict):
            return _error(400, "Problems parsing JSON")
        pushes = self._permissions(repo, login)["push"]
        if not pushes and (issue.author != login or set(document) - {"title", "body"}):
            return _error(403, "Must have push access to edit this issue.")
        state = document.get("state", issue.state)
        if state not in ("open", "closed"):
            return _validation_failed("Issue", "state", "invalid")
        title = document.get("title")
        if title is not None and (not isinstance(title, str) or not 0 < len(title) <= 256):
            return _validation_failed("Issue", "title", "invalid")
        body = document.get("body")
        if isinstance(body, str) and len(body) > 65_536:
            return _validation_failed("Issue", "body", "too_long")
        milestone = document.get("milestone", issue.milestone)
        if milestone is not None and milestone not in repo.milestones:
            return _validation_failed("Issue", "milestone", "invalid")
        if isinstance(title, str):
            issue.title = title
        if "body" in document:
            issue.body = str(body or "")
        if "labels" in document:
            issue.labels = self._labels(repo, _label_names(document["labels"]))
        if isinstance(document.get("assignees"), list):
            assignable = repo.writers | {repo.owner}
            issue.assignees = [a for a in document["assignees"] if a in assignable]
        issue.milestone = milestone
        self._set_state(issue, state, document.get("state_reason"))
        issue.updated_at = self._tick()
        return _Reply(200, render.issue(repo, issue))

    def _add_comment(
        self,
        request: RecordedRequest,
        render: Render,
        repo: FakeRepo,
        issue: FakeIssue,
        login: str,
    ) -> _Reply:
        document = _json_body(request)
        if not isinstance(document, dict):
            return _error(400, "Problems parsing JSON")
        if not isinstance(document.get("body"), str) or not document["body"]:
            return _validation_failed("IssueComment", "body", "missing_field")
        stamp = self._tick()
        comment = FakeComment(self._new_id(), document["body"], login, stamp, stamp)
        issue.comments.append(comment)
        issue.updated_at = stamp
        shown = render.comment(repo, issue, comment)
        return _Reply(201, shown, [("location", shown["url"])])

    def _search_issues(self, request: RecordedRequest, render: Render, login: str | None) -> _Reply:
        query = _query(request.query)
        if not query.get("q", "").strip():
            return _validation_failed("Search", "q", "missing")
        hits = [
            {**render.issue(repo, issue), "score": 1.0}
            for repo in self.repos.values()
            if self._can_read(repo, login)
            for issue in repo.issues.values()
            if _search_matches(query["q"], repo, issue)
        ]
        page = self._page(request, hits, "/search/issues")
        page.payload = {
            "total_count": len(hits),
            "incomplete_results": False,
            "items": page.payload,
        }
        return page

    def _page(self, request: RecordedRequest, items: list[Any], link_path: str) -> _Reply:
        """One page of `items`, with GitHub's Link header (prev, next, last, first)."""
        query = _query(request.query)
        per_page = _positive_int(query.get("per_page"), 30)
        per_page = min(per_page, 100)
        page = _positive_int(query.get("page"), 1)
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]

        def url(target: int) -> str:
            parts = [p for p in request.query.split("&") if p]
            keys = [unquote(p.split("=", 1)[0]) for p in parts]
            if "page" in keys:
                parts[keys.index("page")] = f"page={target}"
            else:
                parts.append(f"page={target}")
            return self._api(f"{link_path}?{'&'.join(parts)}")

        links = []
        if page > 1:
            links.append(f'<{url(page - 1)}>; rel="prev"')
        if page < last:
            links += [f'<{url(page + 1)}>; rel="next"', f'<{url(last)}>; rel="last"']
        if page > 1:
            links.append(f'<{url(1)}>; rel="first"')
        return _Reply(200, chunk, [("link", ", ".join(links))] if links else [])

    def _rate_limit_table(self, token: str | None) -> dict[str, Any]:
        table = {}
        for resource in RESOURCES:
            budget = self._budget(token or "anon", resource)
            budget.renew_if_due(int(time.time()))
            table[resource] = {
                "limit": budget.limit,
                "used": budget.used,
                "remaining": budget.remaining,
                "reset": budget.reset,
            }
        return {"resources": table, "rate": table["core"]}

    # --- helpers ----------------------------------------------------------------------

    def _render(self, request: RecordedRequest | None = None) -> Render:
        accept = request.headers.get("accept", "") if request is not None else ""
        found = _ISSUE_MEDIA.search(accept)
        web = self.public_origin.rstrip("/") if self.base_path else "https://github.com"
        return Render(
            api=self._api(""),
            web=web,
            user_id=self._user_id,
            media=found.group(1) if found else None,
        )

    def _api(self, path: str) -> str:
        return f"{self.public_origin.rstrip('/')}{self.base_path}{path}"

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _tick(self) -> int:
        """Now, in epoch seconds, but always later than the last stamp handed out, so every
        write moves `updated_at` (and so `Last-Modified` and the ETag)."""
        self._last_stamp = max(int(time.time()), self._last_stamp + 1)
        return self._last_stamp

    def _user_id(self, login: str) -> int:
        for known, user_id in self._user_ids.items():
            if known.lower() == login.lower():
                return user_id
        self._user_ids[login] = self._new_id()
        return self._user_ids[login]

    def _canonical_login(self, login: str) -> str:
        return next(known for known in self._user_ids if known.lower() == login.lower())

    def _login(self, token: str | None) -> str | None:
        return None if token is None else self._logins.get(token)

    def _repo(self, owner: str, name: str) -> FakeRepo:
        return self.repos[f"{owner}/{name}".lower()]

    def _can_read(self, repo: FakeRepo, login: str | None) -> bool:
        allowed = repo.readers | repo.writers | {repo.owner}
        return not repo.private or (login is not None and login in allowed)

    def _permissions(self, repo: FakeRepo, login: str) -> dict[str, bool]:
        """What GitHub's repository answer tells a signed-in caller about their access."""
        admin = login.lower() == repo.owner.lower()
        push = admin or login in repo.writers
        return {
            "admin": admin,
            "maintain": admin,
            "push": push,
            "triage": push,
            "pull": self._can_read(repo, login),
        }

    def _labels(self, repo: FakeRepo, names: Iterable[str]) -> list[str]:
        """The names, each made a label of the repository if it is not yet (as GitHub does)."""
        chosen = list(dict.fromkeys(names))
        for name in chosen:
            if name not in repo.labels:
                repo.labels[name] = self._new_id()
        return chosen

    def _set_state(self, issue: FakeIssue, state: str, reason: str | None = None) -> None:
        if state == "closed" and issue.state != "closed":
            issue.closed_at = self._tick()
            issue.state_reason = reason or "completed"
        elif state == "open" and issue.state != "open":
            issue.closed_at = None
            issue.state_reason = "reopened"
        issue.state = state

    def _budget(self, key: str, resource: str) -> _Budget:
        budget = self._budgets.get((key, resource))
        if budget is None:
            with_token, anonymous, window = RESOURCES.get(resource, RESOURCES["core"])
            limit = anonymous if key == "anon" else with_token
            budget = _Budget(limit, window, reset=int(time.time()) + window)
            self._budgets[(key, resource)] = budget
        return budget


# --- module helpers ---------------------------------------------------------------------


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _reply(send: Send, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _drop(send: Send) -> None:
    """Cut the connection before a byte of the answer is written.

    An ASGI app cannot close its socket, and a server answers an app that fails before
    starting a response with a 500. So start one that no server can write (a header value
    with a newline): uvicorn marks the response started, refuses the header, and closes
    the connection with nothing sent. ASGITransport accepts anything, so raise there.
    """
    try:
        await send(
            {
                "type": "http.response.start",
                "status": 500,
                "headers": [(b"x-fake-github", b"dropped\r\n")],
            }
        )
    except Exception:
        return  # the server refused the start: it closes the socket
    raise DroppedConnection("the fake GitHub dropped the connection")


def _credential(header: str | None) -> str | None:
    """The token of `token X`, `Bearer X` or Basic auth; any other value as it stands (GitHub
    will refuse it), or None when there is no Authorization header."""
    if header is None or not header.strip():
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in ("token", "bearer"):
        return value.strip()
    if scheme.lower() == "basic":
        try:
            user, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return header.strip()
        return password if password and password != "x-oauth-basic" else user
    return header.strip()


def _version(request: RecordedRequest) -> str:
    return request.headers.get("x-github-api-version", DEFAULT_VERSION)


def _resource(api_path: str) -> str:
    if api_path == "/graphql":
        return "graphql"
    if api_path.startswith("/search/code"):
        return "code_search"
    if api_path.startswith("/search/"):
        return "search"
    return "core"


def _ratelimit_headers(budget: _Budget, resource: str) -> list[tuple[str, str]]:
    return [
        ("x-ratelimit-limit", str(budget.limit)),
        ("x-ratelimit-remaining", str(budget.remaining)),
        ("x-ratelimit-reset", str(budget.reset)),
        ("x-ratelimit-used", str(budget.used)),
        ("x-ratelimit-resource", resource),
    ]


def _not_modified(headers: dict[str, str], etag: str, last_modified: str | None) -> bool:
    """RFC 9110 §13.2.2: If-None-Match (weak comparison) wins; else If-Modified-Since."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if if_none_match.strip() == "*":
            return True
        ours = etag.removeprefix("W/")
        return any(tag.strip().removeprefix("W/") == ours for tag in if_none_match.split(","))
    if_modified_since = headers.get("if-modified-since")
    if if_modified_since and last_modified:
        try:
            return parsedate_to_datetime(last_modified) <= parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False
    return False


def _media_type_header(accept: str) -> str:
    found = _ISSUE_MEDIA.search(accept)
    return f"github.v3; param={found.group(1)}; format=json" if found else "github.v3; format=json"


def _query(raw: str) -> dict[str, str]:
    """The first value of each parameter."""
    query: dict[str, str] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        query.setdefault(name, value)
    return query


def _positive_int(value: str | None, default: int) -> int:
    try:
        number = int(value) if value is not None else default
    except ValueError:
        return default
    return number if number >= 1 else default


def _tail(segments: list[str]) -> str:
    return "".join(f"/{segment}" for segment in segments)


def _json_body(request: RecordedRequest) -> Any:
    try:
        return json.loads(request.body or b"null")
    except ValueError:
        return None


def _label_names(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(each["name"] if isinstance(each, dict) else each) for each in value]


def _validation_failed(resource: str, field_name: str, code: str) -> _Reply:
    return _error(
        422,
        "Validation Failed",
        errors=[{"resource": resource, "field": field_name, "code": code}],
    )


def _parse_iso(text: str) -> int | None:
    try:
        return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return None


def _search_matches(q: str, repo: FakeRepo, issue: FakeIssue) -> bool:
    """GitHub's issue search, for the qualifiers tests use: repo:, is:, state:, label:,
    author:, and words that must all appear in the title or body."""
    for term in q.split():
        qualifier, _, value = term.partition(":")
        qualifier, value = qualifier.lower(), value.strip('"')
        if not value:
            qualifier, value = "", term
        if qualifier == "repo" and value.lower() != repo.full_name.lower():
            return False
        if qualifier in ("is", "state") and value in ("open", "closed") and issue.state != value:
            return False
        if qualifier in ("is", "type") and value in ("pr", "pull-request"):
            return False
        if qualifier == "label" and value.lower() not in {n.lower() for n in issue.labels}:
            return False
        if qualifier == "author" and value.lower() != issue.author.lower():
            return False
        text = f"{issue.title}\n{issue.body}".lower()
        if not qualifier and term.lower() not in text:
            return False
    return True
