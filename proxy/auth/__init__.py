"""Signing in with GitHub and the Hubbub session it yields: the `/api/auth/*` routes.

endpoints     the routes (Authlib's Starlette client for the OAuth web flow)
oauth_state   OAuth flows in flight, kept in the Store and taken once
cookies       the session and refresh cookies
redirects     where a browser may be sent after signing in
"""

from proxy.auth.endpoints import PREFIX, AuthEndpoints

__all__ = ["PREFIX", "AuthEndpoints"]
