"""`/api/auth/*`: GitHub sign-in (OAuth web flow, state + PKCE S256, through Authlib's
Starlette client) and the Hubbub session it yields.

    GET  /api/auth/login?next=   → 302 to GitHub's authorize page
    GET  /api/auth/callback      → code exchanged, user read through the gateway, session
                                   made, cookies set, 302 to `next`
    GET  /api/auth/me            → who the caller is (and, to a cookie holder, its token)
    POST /api/auth/refresh       → a new session token; the refresh token rotates
    POST /api/auth/logout        → the session and every token of it revoked

Nothing here logs a code, a token or a state value.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route, Router

from proxy.auth.cookies import REFRESH_COOKIE, clear_session_cookies, set_session_cookies
from proxy.auth.oauth_state import FLOW_TTL_S, StoreStateCache
from proxy.auth.redirects import checked_next, trusted_origin
from proxy.github_user import GitHubUsers
from proxy.headers import CACHE_CONTROL
from proxy.http_request import client_ip, own_origin, read_body
from shared.config import Settings
from shared.errors import (
    BodyInvalid,
    Forbidden,
    HubbubError,
    InvalidRequest,
    NotAuthenticated,
    UpstreamUnavailable,
)
from shared.identity import SESSION_COOKIE, Session, digest, identity_for_token
from shared.logging import quiet_libraries

if TYPE_CHECKING:
    from authlib.integrations.starlette_client import StarletteOAuth2App

    from proxy.gateway import Gateway

log = logging.getLogger("hubbub.auth")

PREFIX = "/api/auth"
_NEXT = "hubbub_next"
_MAX_BODY = 4096
_CODE = re.compile(r"[a-z_]{1,40}")


class AuthEndpoints:
    def __init__(self, settings: Settings, gateway: Callable[[], Gateway]) -> None:
        self.settings = settings
        self.gateway = gateway
        self._client: StarletteOAuth2App | None = None

    def routes(self) -> list[BaseRoute]:
        router = Router(
            routes=[
                Route("/login", self.login, methods=["GET"]),
                Route("/callback", self.callback, methods=["GET"], name="auth_callback"),
                Route("/me", self.me, methods=["GET"]),
                Route("/refresh", self.refresh, methods=["POST"]),
                Route("/logout", self.logout, methods=["POST"]),
            ]
        )
        # Holds only Authlib's flow marker and `next`, signed, for the length of a flow.
        flows = SessionMiddleware(
            router,
            secret_key=self._flow_cookie_secret(),
            session_cookie="hubbub_oauth",
            max_age=FLOW_TTL_S,
            path=PREFIX,
            same_site="lax",
            https_only=True,
        )
        return [Mount(PREFIX, app=flows)]

    def _flow_cookie_secret(self) -> str:
        keys = self.settings.token_key_list
        if not keys:
            return secrets.token_hex(32)  # sign-in is off: nothing will be signed with it
        return hmac.new(keys[0], b"hubbub oauth flow cookie", hashlib.sha256).hexdigest()

    # --- sign-in -----------------------------------------------------------------------

    async def login(self, request: Request) -> Response:
        client = self._oauth()
        await self._limit(request)
        target = checked_next(request.query_params.get("next"), self.settings)
        request.session[_NEXT] = target
        redirect_uri = self._callback_url(request)
        response: Response = await client.authorize_redirect(request, redirect_uri)
        response.headers["cache-control"] = CACHE_CONTROL
        return response

    async def callback(self, request: Request) -> Response:
        from authlib.integrations.starlette_client import OAuthError

        client = self._oauth()
        await self._limit(request)
        try:
            grant = await client.authorize_access_token(request)
        except OAuthError as error:
            # `error` is GitHub's or Authlib's code (mismatching_state, access_denied,
            # bad_verification_code), or whatever a caller put in `?error=`: shown only
            # when it looks like a code. The description may quote input: never shown.
            reason = error.error if _CODE.fullmatch(str(error.error)) else "oauth_error"
            log.info("sign-in refused", extra={"outcome": reason})
            raise InvalidRequest(
                f"GitHub sign-in failed ({reason}); start again", code="oauth_failed"
            ) from None
        except httpx.HTTPError:
            raise UpstreamUnavailable(
                "GitHub's sign-in did not answer; try again", status=502, retry_after_s=5
            ) from None
        github_token = grant.get("access_token")
        if not isinstance(github_token, str) or not github_token:
            raise InvalidRequest("GitHub sign-in gave no token; start again", code="oauth_failed")
        gateway = self.gateway()
        # Read through the gateway, every time: the person may have switched accounts.
        user = await GitHubUsers(gateway)(identity_for_token(github_token))
        if user is None or user.user_id is None or user.login is None:
            raise NotAuthenticated("GitHub did not accept the new token", code="oauth_failed")
        gateway.callers.remember(github_token, user)
        session, refresh = await gateway.callers.sessions.create(
            user_id=user.user_id, login=user.login, github_token=github_token
        )
        target = request.session.pop(_NEXT, "/")
        response = RedirectResponse(target, status_code=302)
        self._set_cookies(response, self._issue(session)["token"], refresh)
        log.info("signed in", extra={"outcome": "signed_in"})
        return response

    # --- the session -------------------------------------------------------------------

    async def me(self, request: Request) -> Response:
        gateway = self.gateway()
        identity = await gateway.callers.resolve(
            authorization=request.headers.get("authorization"),
            cookie=request.cookies.get(SESSION_COOKIE),
            client_ip=client_ip(request, self.settings),
        )
        if identity.is_anonymous:
            raise NotAuthenticated("not signed in", code="unauthorized")
        body: dict[str, Any] = {
            "user": {"id": identity.user_id, "login": identity.login},
            "kind": identity.kind,
        }
        if identity.via_cookie:
            # The page's way to its session token, for headers and Socket.IO's `auth`:
            # only a page allowed to read this answer (same origin, or CORS) gets it.
            token = request.cookies[SESSION_COOKIE]
            claims = gateway.callers.tokens.verify(token)
            body.update({"token": token, "token_type": "Bearer", "expires_at": claims.expires_at})
        return _json(body)

    async def refresh(self, request: Request) -> Response:
        await self._limit(request)
        offered, from_cookie = await self._refresh_token(request)
        callers = self.gateway().callers
        try:
            session, refresh = await callers.sessions.rotate(offered)
        except NotAuthenticated as error:
            if error.code == "refresh_token_reused":
                await self.gateway().end_session(offered.partition(".")[0])
            if not from_cookie:
                raise
            response = _json(error.as_json(), status=error.status)
            clear_session_cookies(response)
            return response
        body = self._issue(session)
        if from_cookie:
            response = _json(body)
            self._set_cookies(response, body["token"], refresh)
            return response
        return _json({**body, "refresh_token": refresh})

    async def logout(self, request: Request) -> Response:
        gateway = self.gateway()
        header = request.headers.get("authorization")
        if header:
            identity = await gateway.callers.resolve(
                authorization=header, client_ip=client_ip(request, self.settings)
            )
            if identity.session_id is None:
                raise InvalidRequest("that is not a Hubbub session token", code="not_a_session")
            session_id = identity.session_id
            await gateway.callers.sessions.revoke(session_id)
        else:
            offered, _ = await self._refresh_token(request)
            session_id = offered.partition(".")[0]
            await gateway.callers.sessions.revoke_by_refresh(offered)
        await gateway.end_session(session_id)
        response = _json({"revoked": True})
        clear_session_cookies(response)
        return response

    # --- helpers -----------------------------------------------------------------------

    def _oauth(self) -> StarletteOAuth2App:
        if not self.settings.oauth_enabled:
            raise HubbubError(
                "GitHub sign-in is not configured (GITHUB_CLIENT_ID)",
                code="auth_not_configured",
                status=503,
            )
        if self._client is None:
            # Imported here: Authlib costs a cold start ~0.4 s and only sign-in needs it.
            from authlib.integrations.starlette_client import OAuth

            from proxy.auth.httpx_bridge import authlib_transport

            # Whatever the platform's logging set-up (Vercel runs none of ours): Authlib
            # logs the PKCE verifier at DEBUG.
            quiet_libraries()

            gateway = self.gateway()
            oauth = OAuth(cache=StoreStateCache(gateway.store, gateway.keys))
            base = self.settings.github_oauth_url.rstrip("/")
            secret = self.settings.github_client_secret
            self._client = oauth.register(
                "github",
                client_id=self.settings.github_client_id,
                client_secret=str(secret) if secret is not None else None,
                authorize_url=f"{base}/login/oauth/authorize",
                access_token_url=f"{base}/login/oauth/access_token",
                client_kwargs={
                    "scope": self.settings.oauth_scopes,
                    "code_challenge_method": "S256",
                    "token_endpoint_auth_method": "client_secret_post",
                    "timeout": self.settings.upstream_timeout_s,
                    **(
                        {"transport": authlib_transport(gateway.transport)}
                        if gateway.transport
                        else {}
                    ),
                },
            )
        return self._client

    async def _limit(self, request: Request) -> None:
        """Sign-in and refresh spend the client address's anonymous budget: each login
        stores a flow for ten minutes, so an unmetered stream of them would fill Redis."""
        address = digest("ip", client_ip(request, self.settings))
        await self.gateway().caller_limit.admit("auth", address, self.settings.anonymous_limit)

    def _callback_url(self, request: Request) -> str:
        return own_origin(request, self.settings) + PREFIX + "/callback"

    def _issue(self, session: Session) -> dict[str, Any]:
        """A new session token for the session, as the JSON answers show it."""
        token, claims = self.gateway().callers.tokens.issue(
            user_id=session.user_id, login=session.login, session_id=session.session_id
        )
        return {
            "user": {"id": session.user_id, "login": session.login},
            "token": token,
            "token_type": "Bearer",
            "expires_at": claims.expires_at,
        }

    def _set_cookies(self, response: Response, token: str, refresh: str) -> None:
        set_session_cookies(
            response,
            token=token,
            token_ttl_s=self.settings.session_ttl_s,
            refresh=refresh,
            refresh_ttl_s=self.settings.refresh_ttl_s,
        )

    async def _refresh_token(self, request: Request) -> tuple[str, bool]:
        """The refresh token from a JSON body (API clients), else the cookie (browsers),
        which only counts when the request comes from one of our pages."""
        body = await read_body(request, _MAX_BODY)
        if body.strip():
            try:
                document = json.loads(body)
            except ValueError:
                raise BodyInvalid("body is not valid JSON") from None
            offered = document.get("refresh_token") if isinstance(document, dict) else None
            if not isinstance(offered, str):
                raise BodyInvalid('body must be {"refresh_token": "..."}')
            return offered, False
        cookie = request.cookies.get(REFRESH_COOKIE)
        if not cookie:
            raise NotAuthenticated("no refresh token", code="unauthorized")
        if not trusted_origin(
            request.headers.get("origin"), own_origin(request, self.settings), self.settings
        ):
            raise Forbidden(
                "a cookie alone cannot do this: the request must come from an allowed origin",
                code="csrf_refused",
            )
        return cookie, True


def _json(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"cache-control": CACHE_CONTROL})
