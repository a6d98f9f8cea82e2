"""The demo dashboard in a real browser: `hubbub dev` (a child process, embedded store)
against the fake GitHub over loopback HTTP, driven by Playwright in Debian's chromium.

    dashboard           the running server, its fake GitHub and a headless browser
    dashboard.person    a browser context (one person, their own cookies and storage)

Every step a test names is also a screenshot in tests/output/dashboard/ (not committed),
for people who want to see what the page looked like.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from realtime.demo_page import WEB_DIST
from tests.fakes.github import FakeGitHub
from tests.fakes.serving import serve
from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import TOKEN_C, deliver, issue_payload
from tests.realtime.fleet import Machine

TOKEN_ALICE, TOKEN_BOB, TOKEN_CAROL = TOKEN_A, TOKEN_B, TOKEN_C
OAUTH_CLIENT = ("Iv1.demo0000000000", "demo-client-secret")
TIMEOUT_MS = 10_000
SHOTS = Path(__file__).resolve().parents[1] / "output" / "dashboard"
# As the issue that asked for these tests says to start Debian's chromium.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the browser tests")
    pytest.skip(reason)


def chromium() -> str:
    """Debian's chromium; skips (fails under CI) without it or without the page's bundle."""
    path = shutil.which("chromium")
    if path is None:
        _missing("chromium is not on PATH (apt-get install chromium)")
    if not (WEB_DIST / "dashboard.js").is_file():
        _missing("the dashboard is not built (make web)")
    return str(path)


class Person:
    """One person at the dashboard, in their own browser context."""

    def __init__(self, name: str, context: Any, page: Any, url: str) -> None:
        self.name = name
        self.context = context
        self.page = page
        self.url = url
        self.closed = False
        # Uncaught exceptions in the page: every test ends by asserting there were none.
        self.errors: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def find(self, selector: str, **options: Any) -> Any:
        return self.page.locator(selector, **options)

    async def shot(self, step: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=SHOTS / f"{step}-{self.name}.png", full_page=True)

    async def sign_in_with_token(self, token: str) -> None:
        from playwright.async_api import expect

        await self.page.goto(self.url + "/")
        await self.find("#token-input").fill(token)
        await self.find("#token-submit").click()
        await expect(self.find("#whoami")).to_contain_text(self.name)
        await expect(self.find("#connection")).to_have_text("live")

    async def open_repo(self, repo: str) -> None:
        from playwright.async_api import expect

        await self.find("#repo-input").fill(repo)
        await self.find("#repo-open").click()
        await expect(self.find("#project-status")).to_contain_text(repo)
        await expect(self.find("#issues li").first).to_be_visible()

    async def open_issue(self, number: int) -> None:
        from playwright.async_api import expect

        await self.find(f'#issues li[data-number="{number}"] a').click()
        await expect(self.find("#editor")).to_be_visible()
        await expect(self.find("#body-editor .cm-content")).to_be_visible()

    async def at_issue(self, token: str, number: int, repo: str = "octo/hello") -> None:
        """Signed in with `token`, in `repo`, with issue `number` open."""
        await self.sign_in_with_token(token)
        await self.open_repo(repo)
        await self.open_issue(number)

    async def shown(self, field: str) -> str | None:
        """What the field's editor shows now."""
        return await self.page.evaluate("(field) => window.hubbub.shown(field)", field)

    async def type_at_end(self, field: str, text: str, *, delay_ms: float = 15) -> None:
        """Click into the field, go to its end and type `text` key by key."""
        await self.find(f"#{field}-editor .cm-content").click()
        await self.page.keyboard.press("Control+End")
        await self.page.keyboard.type(text, delay=delay_ms)

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.context.close()


class Dashboard:
    def __init__(
        self, machine: Machine, github: FakeGitHub, browser: Any, stack: AsyncExitStack
    ) -> None:
        self.machine = machine
        self.url = machine.url
        self.github = github
        self.browser = browser
        self._stack = stack
        self.http = httpx.AsyncClient(base_url=self.url)
        self.people: list[Person] = []

    async def person(self, name: str) -> Person:
        context = await self.browser.new_context(viewport={"width": 1280, "height": 860})
        context.set_default_timeout(TIMEOUT_MS)
        page = await context.new_page()
        person = Person(name, context, page, self.url)
        self._stack.push_async_callback(person.close)
        self.people.append(person)
        return person

    def page_errors(self) -> dict[str, list[str]]:
        return {person.name: person.errors for person in self.people if person.errors}

    async def deliver_issue_event(self, number: int, action: str, title: str) -> None:
        """A webhook delivery about octo/hello#number, signed as GitHub signs it."""
        repo = self.github.repos["octo/hello"]
        await deliver(self.http, "issues", issue_payload(repo, number, action, title))


@pytest.fixture(scope="session", autouse=True)
def fresh_screenshots() -> None:
    """This run's screenshots only: a step a test no longer takes leaves no old picture."""
    shutil.rmtree(SHOTS, ignore_errors=True)


def fake_github() -> FakeGitHub:
    github = FakeGitHub()
    github.add_user(TOKEN_ALICE, "alice")
    github.add_user(TOKEN_BOB, "bob")
    github.add_user(TOKEN_CAROL, "carol")
    github.add_oauth_app(*OAUTH_CLIENT)
    github.add_repo("octo", "hello", writers=["alice", "bob"], readers=["carol"])
    github.add_repo("octo", "secret", private=True)
    github.add_issue(
        "octo",
        "hello",
        title="Login fails on Safari",
        body="Steps to reproduce:\n1. Open the login page in Safari.\n",
        labels=["bug"],
        number=1,
    )
    github.add_issue("octo", "hello", title="Dark mode", labels=["enhancement"], number=2)
    github.add_issue("octo", "hello", title="Document the API", labels=["docs"], number=3)
    return github


@asynccontextmanager
async def running_dashboard(redis_url: str | None, **environ: str) -> AsyncIterator[Dashboard]:
    """`hubbub dev` on the embedded store (`redis_url` None) or on a Redis, whatever the
    environment or a `.env` say, with `environ` for its settings, and a headless chromium."""
    executable = chromium()
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=TIMEOUT_MS)
    github = fake_github()
    async with AsyncExitStack() as stack:
        github_url = await stack.enter_async_context(serve(github.app))
        machine = Machine(
            "dev",
            redis_url,
            github_url,
            command="dev",
            GITHUB_OAUTH_URL=github_url,
            GITHUB_CLIENT_ID=OAUTH_CLIENT[0],
            GITHUB_CLIENT_SECRET=OAUTH_CLIENT[1],
            # Set, so that a REDIS_URL or UPSTASH_* of the environment or a `.env` (the
            # child runs in the repository) cannot choose the store instead.
            **({} if redis_url else {"REDIS_URL": ""}),
            UPSTASH_REDIS_REST_URL="",
            UPSTASH_REDIS_REST_TOKEN="",
            **environ,
        )
        stack.callback(machine.stop)
        await machine.start()
        playwright = await stack.enter_async_context(async_playwright())
        browser = await playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        stack.push_async_callback(browser.close)
        board = Dashboard(machine, github, browser, stack)
        stack.push_async_callback(board.http.aclose)
        try:
            yield board
        except BaseException:
            print(machine.output())
            raise
        assert not board.page_errors(), f"errors in the page: {board.page_errors()}"


@pytest_asyncio.fixture
async def dashboard() -> AsyncIterator[Dashboard]:
    async with running_dashboard(None) as board:
        yield board


@pytest_asyncio.fixture
async def dashboard_on_redis(fresh_redis_url: str) -> AsyncIterator[Dashboard]:
    async with running_dashboard(fresh_redis_url) as board:
        yield board
