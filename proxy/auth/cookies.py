"""The two cookies a browser holds after signing in, and their attributes.

    hubbub_session   the session token (JWT), Path=/: read requests may use it alone
    hubbub_refresh   the refresh token, Path=/api/auth: sent to the auth routes only

Both HttpOnly (page scripts cannot read them; `GET /api/auth/me` hands a page its session
token for headers), Secure (browsers treat http://localhost as secure, so `hubbub dev`
works) and SameSite=Lax (sent on the top-level navigation back from GitHub, not on
cross-site POSTs).
"""

from __future__ import annotations

from starlette.responses import Response

from shared.identity import SESSION_COOKIE

REFRESH_COOKIE = "hubbub_refresh"
REFRESH_PATH = "/api/auth"


def set_session_cookies(
    response: Response, *, token: str, token_ttl_s: int, refresh: str, refresh_ttl_s: int
) -> None:
    response.set_cookie(
        SESSION_COOKIE, token, max_age=token_ttl_s, path="/", secure=True, httponly=True
    )
    response.set_cookie(
        REFRESH_COOKIE,
        refresh,
        max_age=refresh_ttl_s,
        path=REFRESH_PATH,
        secure=True,
        httponly=True,
    )


def clear_session_cookies(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True)
    response.delete_cookie(REFRESH_COOKIE, path=REFRESH_PATH, secure=True, httponly=True)
