"""Every tool's GitHub call: through the gateway, as the calling agent's own identity.

Agents share the dashboards' cache, revalidation, single flight and budget protection
because they take the same path: a `GatewayRequest`, never an HTTP client of their own.
GitHub's refusals become `ToolFailure`s whose message tells a model what to do next.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from proxy.gateway import Gateway
from proxy.messages import CacheOutcome, GatewayRequest, GatewayResponse
from shared.errors import HubbubError, RateLimited, UpstreamUnavailable
from shared.identity import Identity

_LINK_NEXT = re.compile(r'<[^>]*[?&]page=(\d+)[^>]*>;\s*rel="next"')


class ToolFailure(Exception):
    """A call that cannot succeed as asked: its message goes to the model as an error result."""


@dataclass(frozen=True)
class Answer:
    status: int
    data: Any
    headers: dict[str, str]
    outcome: CacheOutcome
    age_s: int | None
    text: str = ""

    @property
    def next_page(self) -> int | None:
        """The page GitHub's `Link` header offers next, if any."""
        match = _LINK_NEXT.search(self.headers.get("link", ""))
        return int(match.group(1)) if match else None

    @property
    def note(self) -> str | None:
        """What a model should know about how fresh the answer is."""
        if self.outcome is CacheOutcome.STALE:
            age = f"{self.age_s} s old" if self.age_s is not None else "older than usual"
            return f"GitHub could not be asked just now: this is Hubbub's cached copy, {age}."
        return None


class GitHub:
    """The gateway, seen from a tool."""

    def __init__(self, gateway: Callable[[], Gateway]) -> None:
        self._gateway = gateway

    @property
    def gateway(self) -> Gateway:
        return self._gateway()

    async def get(
        self, identity: Identity, path: str, query: dict[str, Any] | None = None, **kwargs: Any
    ) -> Answer:
        return await self.request(identity, "GET", path, query=query, **kwargs)

    async def request(
        self,
        identity: Identity,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: Any = None,
        accept: str | None = None,
        subject: str = "",
    ) -> Answer:
        """One call; `subject` names what was asked for in a failure ("o/r#3")."""
        headers: dict[str, str] = {}
        if accept is not None:
            headers["accept"] = accept
        payload = b""
        if body is not None:
            headers["content-type"] = "application/json"
            payload = json.dumps(body).encode()
        shown = {key: value for key, value in (query or {}).items() if value is not None}
        request = GatewayRequest(
            method=method,
            path=path,
            query=urlencode(shown, doseq=True),
            identity=identity,
            headers=headers,
            body=payload,
        )
        try:
            response = await self.gateway(request)
        except RateLimited as error:
            raise ToolFailure(
                f"Hubbub's rate limit for you is spent: retry after"
                f" {math.ceil(error.retry_after_s)} seconds."
            ) from None
        except UpstreamUnavailable as error:
            wait = error.retry_after_s
            hint = f" Retry after {math.ceil(wait)} seconds." if wait else " Retry shortly."
            raise ToolFailure(f"GitHub is unavailable ({error}).{hint}") from None
        except HubbubError as error:
            raise ToolFailure(f"{error} ({error.code}).") from None
        return _answer(response, subject or path)


def _answer(response: GatewayResponse, subject: str) -> Answer:
    headers = {name.lower(): value for name, value in response.headers}
    text = response.body.decode("utf-8", "replace")
    data: Any = None
    if "json" in headers.get("content-type", "") and text:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    if response.status >= 400:
        raise ToolFailure(_failure(response.status, headers, data, subject))
    return Answer(response.status, data, headers, response.outcome, response.age_s, text)


def _failure(status: int, headers: dict[str, str], data: Any, subject: str) -> str:
    message = data.get("message", "") if isinstance(data, dict) else ""
    retry = _retry_after(headers)
    if status == 429 or (status == 403 and retry is not None):
        return (
            f"Rate limited by GitHub: retry after {retry or 60} seconds."
            " Reads Hubbub has cached are still served; writes must wait."
        )
    if status == 401:
        return "GitHub does not accept this credential; sign in again or use another token."
    if status == 403:
        scopes = headers.get("x-accepted-oauth-scopes")
        need = f" The call needs one of these token scopes: {scopes}." if scopes else ""
        return f"No permission for {subject}: {message or 'GitHub refused the call'}.{need}"
    if status in (404, 410):
        return (
            f"Not found: {subject} does not exist, or this identity cannot see it."
            " Check the owner, repository and number."
        )
    if status == 409:
        return f"Conflict on {subject}: {message or 'GitHub refused the change'}."
    if status == 422:
        return f"Validation failed for {subject}: {_details(data) or message}."
    if status >= 500:
        return f"GitHub failed ({status}) on {subject}; retry shortly."
    return f"GitHub answered {status} for {subject}: {message or 'no message'}."


def _retry_after(headers: dict[str, str]) -> int | None:
    """Seconds until GitHub lets the token in again, when the answer says so."""
    retry = headers.get("retry-after", "")
    if retry.isdigit():
        return int(retry)
    if headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset", "")
        if reset.isdigit():
            return max(1, int(reset) - int(time.time()))
    return None


def _details(data: Any) -> str:
    """GitHub's 422 `errors` list in one line a model can act on."""
    if not isinstance(data, dict):
        return ""
    parts = []
    for error in data.get("errors") or []:
        if isinstance(error, str):
            parts.append(error)
        elif isinstance(error, dict):
            text = error.get("message") or " ".join(
                str(error[key]) for key in ("resource", "field", "code") if error.get(key)
            )
            parts.append(str(text))
    message = str(data.get("message") or "")
    return "; ".join([message, *parts]) if parts else message
