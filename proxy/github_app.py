"""Minting the server's GitHub App installation tokens: the one call to GitHub that does
not go through the gateway, because it is authorised by the App's own JWT and its answer
(a new token) must never be cached."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import httpx

from shared.errors import UpstreamUnavailable

if TYPE_CHECKING:
    from proxy.gateway import Gateway


class InstallationTokenMint:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, app_jwt: str, installation_id: str) -> tuple[str, float]:
        settings = self.gateway.settings
        api = settings.github_api_url.rstrip("/")
        url = f"{api}/app/installations/{installation_id}/access_tokens"
        try:
            answer = await self.gateway.client.post(
                url,
                headers={
                    "authorization": f"Bearer {app_jwt}",
                    "accept": "application/vnd.github+json",
                    "x-github-api-version": settings.github_api_version,
                    "user-agent": settings.user_agent,
                },
            )
        except httpx.HTTPError:
            raise UpstreamUnavailable(
                "GitHub could not be reached for an installation token", retry_after_s=5
            ) from None
        if answer.status_code != 201:
            # 401: the App id or key is wrong; 404: not installed there. Operators read the
            # status in the message; the body may echo the JWT's claims, so it is not shown.
            raise UpstreamUnavailable(
                f"GitHub answered {answer.status_code} when asked for an installation token"
                " (check GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY, GITHUB_APP_INSTALLATION_ID)",
                status=502,
                retry_after_s=30,
            )
        document = answer.json()
        expires = datetime.datetime.fromisoformat(document["expires_at"].replace("Z", "+00:00"))
        return document["token"], expires.timestamp()
