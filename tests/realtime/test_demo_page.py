"""The demo dashboard's routes: on only when asked, safe headers, and a clear page when
the bundle has not been built."""

from __future__ import annotations

from pathlib import Path

import httpx
from starlette.applications import Starlette

from realtime.app import create_app
from realtime.demo_page import demo_routes
from tests.realtime.test_app import make_gateway


def client_for(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hubbub.test")


def built(tmp_path: Path) -> Path:
    (tmp_path / "index.html").write_text("<!doctype html><title>Hubbub</title>")
    (tmp_path / "dashboard.js").write_text("console.log('hubbub')")
    return tmp_path


async def test_the_server_serves_no_page_unless_asked() -> None:
    gateway = make_gateway()
    app = create_app(gateway.settings, gateway=gateway)
    async with client_for(app) as client:
        assert (await client.get("/")).status_code == 404
        assert (await client.get("/demo/dashboard.js")).status_code == 404
    await gateway.aclose()


async def test_the_page_and_its_assets_with_their_headers(tmp_path: Path) -> None:
    settings = make_gateway().settings.replace(demo_page=True)
    app = Starlette(routes=demo_routes(settings, built(tmp_path)))
    async with client_for(app) as client:
        page = await client.get("/")
        script = await client.get("/demo/dashboard.js")
        missing = await client.get("/demo/nothing.js")
        outside = await client.get("/demo/../../pyproject.toml")
        escaped = await client.get("/demo/%2e%2e/%2e%2e/pyproject.toml")
    assert page.status_code == 200 and "<title>Hubbub</title>" in page.text
    assert script.status_code == 200 and script.text == "console.log('hubbub')"
    for response in (page, script):
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-content-type-options"] == "nosniff"
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src" not in policy
    assert missing.status_code == 404
    assert outside.status_code == 404 and escaped.status_code == 404


async def test_an_unbuilt_page_says_how_to_build_it(tmp_path: Path) -> None:
    settings = make_gateway().settings.replace(demo_page=True)
    app = Starlette(routes=demo_routes(settings, tmp_path / "dist"))
    async with client_for(app) as client:
        page = await client.get("/")
        script = await client.get("/demo/dashboard.js")
    assert page.status_code == 503
    assert "make web" in page.text
    assert script.status_code == 404


async def test_the_page_learns_whether_github_sign_in_is_set_up(tmp_path: Path) -> None:
    settings = make_gateway().settings.replace(demo_page=True)
    for configured in (settings, settings.replace(github_client_id="Iv1.x")):
        app = Starlette(routes=demo_routes(configured, built(tmp_path)))
        async with client_for(app) as client:
            answer = await client.get("/demo/config.json")
        assert answer.json() == {"github_sign_in": configured.oauth_enabled}
    assert not settings.oauth_enabled
