"""Webhooks that change who may see a repository drop cached access decisions at once."""

from __future__ import annotations

import copy

import pytest

from shared.identity import identity_for_token
from tests.fakes.github import FakeGitHub
from tests.proxy.conftest import TOKEN_A
from tests.webhooks.conftest import HooksFactory, fixture_payload


def payload_for(event: str, name: str, repo_id: int) -> dict:
    """A fixture delivery, moved onto the fake's octo/secret and its organisation."""
    payload = copy.deepcopy(fixture_payload(event, name))
    if "repository" in payload:
        payload["repository"].update(
            id=repo_id, name="secret", full_name="octo/secret", private=True
        )
        payload["repository"]["owner"]["login"] = "octo"
    if "organization" in payload:
        payload["organization"]["login"] = "octo"
    return payload


@pytest.mark.parametrize(
    ("event", "name"),
    [
        ("member", "added"),  # delivered as `removed` below
        ("membership", "removed"),
        ("team", "removed_from_repository"),
        ("organization", "member_added"),  # delivered as `member_removed` below
    ],
)
async def test_losing_access_is_seen_at_once_after_the_webhook(
    make_hooks: HooksFactory, github: FakeGitHub, event: str, name: str
) -> None:
    hooks = make_hooks()
    access = hooks.gateway.access
    alice = identity_for_token(TOKEN_A)
    assert await access.can_read(alice, "octo/secret")

    github.repos["octo/secret"].readers.discard("alice")  # changed on github.com
    assert await access.can_read(alice, "octo/secret")  # not told yet: the decision stands

    payload = payload_for(event, name, github.repos["octo/secret"].id)
    payload["action"] = {"member": "removed", "organization": "member_removed"}.get(
        event, payload["action"]
    )
    delivered = await hooks.deliver(event, payload)

    assert delivered.status_code == 202
    assert not await access.can_read(alice, "octo/secret")
