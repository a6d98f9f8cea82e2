"""The dashboard page, as people use it in a real browser (Debian's chromium), against
`hubbub dev` and the fake GitHub."""

from __future__ import annotations

import asyncio

from playwright.async_api import expect

from tests.fakes.waiting import wait_until_true
from tests.web.conftest import (
    TOKEN_ALICE,
    TOKEN_BOB,
    TOKEN_CAROL,
    Dashboard,
    Person,
    running_dashboard,
)

ALICE_WORDS = "Alice: it fails on Safari 17.4 too.\n"
BOB_WORDS = "Bob: reproduced on macOS 15.\n"


async def same_text(people: list[Person], field: str, *parts: str) -> str:
    """Waits until every person's editor shows the same text, holding all `parts`."""
    shown: list[str | None] = []

    async def settled() -> bool:
        shown[:] = [await person.shown(field) for person in people]
        first = shown[0]
        return (
            first is not None and all(s == first for s in shown) and all(p in first for p in parts)
        )

    try:
        await wait_until_true(settled, timeout=10)
    except TimeoutError:
        raise AssertionError(f"the {field} editors did not agree: {shown}") from None
    assert shown[0] is not None
    return shown[0]


async def test_two_people_edit_one_issue_at_once_and_save_it(dashboard: Dashboard) -> None:
    alice = await dashboard.person("alice")
    bob = await dashboard.person("bob")
    await alice.sign_in_with_token(TOKEN_ALICE)
    await alice.shot("01-signed-in")
    await alice.open_repo("octo/hello")
    await bob.sign_in_with_token(TOKEN_BOB)
    await bob.open_repo("octo/hello")
    await alice.open_issue(1)
    await bob.open_issue(1)
    await expect(alice.find("#body-editor .cm-content")).to_contain_text("Steps to reproduce")
    await alice.shot("02-issue-open")

    # Both type into the body at the same moment, key by key. Alice's click comes first:
    # the body's lease is hers, and Bob's page says so.
    await alice.find("#body-editor .cm-content").click()
    await expect(bob.find("#holder-body")).to_have_text("✎ alice is editing")
    await bob.find("#body-editor .cm-content").click()
    await alice.page.keyboard.press("Control+End")
    await bob.page.keyboard.press("Control+End")
    await asyncio.gather(
        alice.page.keyboard.type(ALICE_WORDS, delay=20),
        bob.page.keyboard.type(BOB_WORDS, delay=20),
    )
    body = await same_text([alice, bob], "body", ALICE_WORDS, BOB_WORDS)
    assert body.startswith("Steps to reproduce:\n1. Open the login page in Safari.\n")
    # Each sees the other's cursor, named.
    await expect(alice.find("#body-editor .cm-ySelectionInfo", has_text="bob")).to_be_attached()
    await expect(bob.find("#holder-body")).to_have_text("✎ alice is editing")
    await expect(alice.find("#holder-body")).to_have_text("")  # her own lease
    await alice.shot("03-typed-together")
    await bob.shot("03-typed-together")

    # Labels are toggles on the same document.
    await alice.find('#labels button[data-label="enhancement"]').click()
    await expect(bob.find('#labels button[data-label="enhancement"]')).to_have_attribute(
        "aria-pressed", "true"
    )

    await alice.find("#save").click()
    await expect(alice.find("#save-status")).to_have_text("Saved body, labels to GitHub.")
    saved = dashboard.github.repos["octo/hello"].issues[1]
    assert saved.body == body
    assert sorted(saved.labels) == ["bug", "enhancement"]
    # The other editor hears of the save.
    await expect(bob.find("#notice")).to_contain_text("Saved to GitHub by alice")
    await alice.shot("04-saved")

    # A save with nothing new says so.
    await bob.find("#save").click()
    await expect(bob.find("#save-status")).to_contain_text("Nothing to save")


async def test_webhooks_and_outside_edits_reach_every_open_page(dashboard: Dashboard) -> None:
    alice = await dashboard.person("alice")
    bob = await dashboard.person("bob")
    for person, token in ((alice, TOKEN_ALICE), (bob, TOKEN_BOB)):
        await person.at_issue(token, 1)

    # An edit made on github.com, then its webhook.
    issue = dashboard.github.repos["octo/hello"].issues[1]
    dashboard.github.edit_issue(
        "octo", "hello", 1, body=issue.body + "Edited on github.com.\n", labels=["bug", "docs"]
    )
    await dashboard.deliver_issue_event(1, "edited", "Login fails on Safari")
    for person in (alice, bob):
        await expect(person.find('#feed li[data-type="github.issues"]')).to_contain_text(
            "issues edited #1"
        )
        await expect(person.find("#notice")).to_contain_text("GitHub changed this issue")
        await expect(person.find('#labels button[data-label="docs"]')).to_have_attribute(
            "aria-pressed", "true"
        )
    await same_text([alice, bob], "body", "Edited on github.com.")
    await alice.shot("05-webhook-and-outside-edit")

    # The event made the page read its list of issues again: the webhook had invalidated
    # the gateway's copy, so the read went to GitHub (the network panel says so).
    reads = alice.find('#network-rows tr[data-path^="/repos/octo/hello/issues?"]')
    await expect(reads).to_have_count(2)
    await expect(reads.first).to_have_attribute("data-cache", "MISS")


async def test_presence_shows_who_is_here_and_who_left(dashboard: Dashboard) -> None:
    alice = await dashboard.person("alice")
    bob = await dashboard.person("bob")
    await alice.sign_in_with_token(TOKEN_ALICE)
    await alice.open_repo("octo/hello")
    await bob.sign_in_with_token(TOKEN_BOB)
    await bob.open_repo("octo/hello")
    await expect(alice.find('#presence li[data-login="bob"]')).to_be_visible()
    await expect(bob.find('#presence li[data-login="alice"]')).to_be_visible()
    await expect(alice.find('#presence li[data-login="alice"]')).to_contain_text("(you)")

    # Opening an issue and focusing a field shows where in the others' rosters.
    await bob.open_issue(1)
    await bob.find("#title-editor .cm-content").click()
    await expect(alice.find('#presence li[data-login="bob"]')).to_contain_text("on #1 · title")
    await alice.shot("06-presence")

    await bob.close()
    await expect(alice.find('#presence li[data-login="bob"]')).to_have_count(0)
    await alice.shot("07-presence-left")


async def test_sign_in_with_github_and_out(dashboard: Dashboard) -> None:
    dashboard.github.sign_in("alice")  # the person approving on github.com
    alice = await dashboard.person("alice")
    await alice.page.goto(dashboard.url + "/")
    await alice.shot("00-sign-in")
    await alice.find("#oauth-login").click()
    # GitHub's consent, the callback, and back on the page with a Hubbub session.
    await expect(alice.find("#whoami")).to_have_text("alice")
    await expect(alice.find("#connection")).to_have_text("live")
    await alice.open_repo("octo/hello")
    await alice.shot("08-signed-in-with-github")

    # A reload keeps the session (the cookie); once the session cookie is gone (it lives
    # as long as its token), the refresh cookie brings a new one.
    await alice.page.reload()
    await expect(alice.find("#whoami")).to_have_text("alice")
    await alice.context.clear_cookies(name="hubbub_session")
    await alice.page.reload()
    await expect(alice.find("#whoami")).to_have_text("alice")
    assert any(c["name"] == "hubbub_session" for c in await alice.context.cookies())
    await alice.find("#sign-out").click()
    await expect(alice.find("#signin")).to_be_visible()
    await alice.page.reload()
    await expect(alice.find("#signin")).to_be_visible()


async def test_a_refused_token_and_a_reader_are_told_in_plain_words(dashboard: Dashboard) -> None:
    stranger = await dashboard.person("stranger")
    await stranger.page.goto(dashboard.url + "/")
    await stranger.find("#token-input").fill("ghp_" + "x" * 36)
    await stranger.find("#token-submit").click()
    await expect(stranger.find("#signin-error")).not_to_be_empty()
    await expect(stranger.find("#workspace")).to_be_hidden()

    carol = await dashboard.person("carol")
    await carol.sign_in_with_token(TOKEN_CAROL)
    await carol.open_repo("octo/hello")
    await expect(carol.find("#project-status")).to_contain_text("you can read here")
    await carol.open_issue(1)
    await expect(carol.find("#notice")).to_contain_text("not edit it")
    await expect(carol.find("#save")).to_be_disabled()
    await carol.find("#body-editor .cm-content").click()
    await carol.page.keyboard.type("carol was here")
    assert "carol was here" not in (await carol.shown("body") or "")
    await carol.shot("09-reader")


async def test_a_refused_save_says_why_and_changes_nothing(dashboard: Dashboard) -> None:
    bob = await dashboard.person("bob")
    await bob.at_issue(TOKEN_BOB, 1)
    await bob.type_at_end("body", "Needs a fix before Friday.")
    before = dashboard.github.repos["octo/hello"].issues[1].body
    dashboard.github.repos["octo/hello"].writers.discard("bob")  # bob loses push access

    await bob.find("#save").click()
    status = bob.find("#save-status")
    await expect(status).to_have_class("error")
    await expect(status).to_have_text(
        "GitHub refused the edit: Must have push access to edit this issue."
    )
    assert dashboard.github.repos["octo/hello"].issues[1].body == before
    await bob.shot("10-save-refused")
    # The draft on the server keeps what was typed: a reload (the address names the issue)
    # opens it again with the text.
    await bob.page.reload()
    await expect(bob.find("#editor-heading")).to_contain_text("#1 in octo/hello")
    await same_text([bob], "body", "Needs a fix before Friday.")


async def test_a_save_after_a_change_on_github_merges_it_and_says_so(
    dashboard: Dashboard,
) -> None:
    bob = await dashboard.person("bob")
    await bob.at_issue(TOKEN_BOB, 2)
    await bob.type_at_end("body", "Plan: follow the system setting.")
    # Someone renames the issue on github.com; no webhook reaches Hubbub.
    dashboard.github.edit_issue("octo", "hello", 2, title="Dark mode for the editor")

    await bob.find("#save").click()
    await expect(bob.find("#save-status")).to_contain_text(
        "GitHub had changed the issue meanwhile: its changes were merged in first"
    )
    saved = dashboard.github.repos["octo/hello"].issues[2]
    assert saved.title == "Dark mode for the editor"  # GitHub's change was kept
    assert saved.body == "Plan: follow the system setting."
    await same_text([bob], "title", "Dark mode for the editor")
    await bob.shot("11-save-merged")


async def test_a_refused_project_leaves_the_one_shown_and_the_editor_closes(
    dashboard: Dashboard,
) -> None:
    alice = await dashboard.person("alice")
    await alice.at_issue(TOKEN_ALICE, 1)
    await alice.find("#repo-input").fill("octo/secret")
    await alice.find("#repo-open").click()
    await expect(alice.find("#project-status")).to_have_text(
        "no read access to octo/secret. Still in octo/hello."
    )
    await expect(alice.find("#issues li")).to_have_count(3)
    await expect(alice.find("#editor")).to_be_visible()
    # Still joined: a webhook still reaches the feed.
    await dashboard.deliver_issue_event(2, "labeled", "Dark mode")
    await expect(alice.find('#feed li[data-type="github.issues"]')).to_contain_text("#2")

    # Issues open one after the other, and the close button closes.
    await alice.open_issue(2)
    await expect(alice.find("#editor-heading")).to_contain_text("#2 in octo/hello")
    await alice.find("#close-issue").click()
    await expect(alice.find("#editor")).to_be_hidden()
    await expect(alice.find('#presence li[data-login="alice"]')).not_to_contain_text("on #")


async def test_after_a_server_restart_the_page_comes_back_where_it_was(
    dashboard_on_redis: Dashboard,
) -> None:
    dashboard = dashboard_on_redis
    alice = await dashboard.person("alice")
    bob = await dashboard.person("bob")
    for person, token in ((alice, TOKEN_ALICE), (bob, TOKEN_BOB)):
        await person.at_issue(token, 1)
    await bob.find("#title-editor .cm-content").click()
    await expect(alice.find("#holder-title")).to_have_text("✎ bob is editing")

    # A deploy: the server stops (sockets close) and starts again on the same Redis. Bob
    # keeps typing meanwhile.
    dashboard.machine.terminate()
    await dashboard.machine.exited()
    await expect(bob.find("#connection")).to_have_text("offline")
    await bob.page.keyboard.press("End")
    await bob.page.keyboard.type(" offline")
    await dashboard.machine.start()
    await expect(bob.find("#connection")).to_have_text("live", timeout=20_000)
    await expect(alice.find("#connection")).to_have_text("live", timeout=20_000)

    # Each page rejoined, reopened the issue and said again where its person is.
    await expect(alice.find('#presence li[data-login="bob"]')).to_contain_text("on #1 · title")
    await expect(alice.find("#holder-title")).to_have_text("✎ bob is editing")
    # What Bob typed offline went with his answer to the server's sync; typing goes on.
    await same_text([alice, bob], "title", "Login fails on Safari offline")
    await bob.page.keyboard.type(" (all versions)")
    await same_text([alice, bob], "title", "Login fails on Safari offline (all versions)")
    await expect(bob.find("#notice")).to_be_hidden()
    await alice.shot("12-after-restart")


async def test_typing_faster_than_the_edit_budget_still_arrives_whole(
    dashboard: Dashboard,
) -> None:
    """Beyond HUBBUB_SOCKET_EDITS_PER_S the server refuses updates; Yjs never resends one,
    so the page must answer the server's sync request, which carries what was refused."""
    alice = await dashboard.person("alice")
    bob = await dashboard.person("bob")
    await alice.at_issue(TOKEN_ALICE, 3)
    await bob.at_issue(TOKEN_BOB, 3)
    burst = "".join(f"line {n} of a pasted log, typed key by key.\n" for n in range(6))
    await bob.type_at_end("body", burst, delay_ms=0)
    await bob.page.keyboard.type("END")
    body = await same_text([alice, bob], "body", burst + "END")
    assert body == burst + "END"


async def test_a_session_about_to_expire_is_renewed_and_the_page_stays_live() -> None:
    """The server warns a socket 60 s before its session token expires; with 62 s tokens
    the page hears it at once, renews through the refresh cookie and hands the socket the
    new token, again and again, without leaving the room."""
    async with running_dashboard(None, HUBBUB_SESSION_TTL_S="62") as dashboard:
        dashboard.github.sign_in("alice")
        alice = await dashboard.person("alice")
        await alice.page.goto(dashboard.url + "/")
        await alice.find("#oauth-login").click()
        await alice.open_repo("octo/hello")
        tokens: set[str] = set()

        async def renewed_twice() -> bool:
            cookies = await alice.context.cookies()
            tokens.update(c["value"] for c in cookies if c["name"] == "hubbub_session")
            return len(tokens) >= 3

        await wait_until_true(renewed_twice, timeout=15)
        await expect(alice.find("#connection")).to_have_text("live")
        await expect(alice.find("#project-status")).to_have_text("octo/hello: you can edit here.")
        await dashboard.deliver_issue_event(1, "edited", "Login fails on Safari")
        await expect(alice.find('#feed li[data-type="github.issues"]')).to_contain_text("#1")
