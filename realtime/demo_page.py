"""The demo dashboard: `web/dist` (built by `make web`) served at `/` and `/demo/*`.

It is a page like any dashboard a team would write: same-origin calls to `/api/github`,
`/api/auth` and Socket.IO, nothing the public API does not offer. `hubbub dev` serves it;
`hubbub serve` only with `HUBBUB_DEMO_PAGE=1`, since a production server has no use for it.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from shared.config import Settings

WEB_DIST = Path(__file__).resolve().parents[1] / "web" / "dist"

# The bundle keeps one name across builds: revalidate (ETag) on every load instead of
# caching, so a rebuilt page is never mixed with an old script.
_HEADERS = {
    "cache-control": "no-cache",
    "x-content-type-options": "nosniff",
    # CodeMirror and y-codemirror add <style> elements: inline styles, never scripts.
    "content-security-policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "referrer-policy": "same-origin",
}

_NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Hubbub</title>
<p>The dashboard is not built yet. Run <code>make web</code> (or <code>make dev</code>,
which builds it) and reload.</p>"""


class _Assets(StaticFiles):
    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.root = directory

    async def check_config(self) -> None:
        # Not built (yet): StaticFiles would raise, a 500; `get_response` answers 404.
        if self.root.is_dir():
            await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not self.root.is_dir():
            return PlainTextResponse("Not Found", status_code=404)
        response = await super().get_response(path, scope)
        response.headers.update(_HEADERS)
        return response


def demo_routes(settings: Settings, directory: Path = WEB_DIST) -> list[BaseRoute]:
    if not settings.demo_page:
        return []

    async def index(request: Request) -> Response:
        page = directory / "index.html"
        if not page.is_file():
            return HTMLResponse(_NOT_BUILT, status_code=503, headers=_HEADERS)
        return FileResponse(page, headers=_HEADERS)

    async def config(request: Request) -> Response:
        # What the page cannot learn otherwise without starting a sign-in.
        return JSONResponse({"github_sign_in": settings.oauth_enabled}, headers=_HEADERS)

    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/demo/config.json", config, methods=["GET"]),
        Mount("/demo", app=_Assets(directory)),
    ]
