"""Presence: who is in a project and what they look at, seen by everyone in it."""

from __future__ import annotations

import asyncio

from tests.proxy.conftest import TOKEN_A, TOKEN_B
from tests.realtime.conftest import TOKEN_C, Live, LiveFactory


def logins(members: list[dict]) -> list[str]:
    return sorted(member["login"] for member in members)


async def test_members_see_each_other_join_look_at_an_issue_and_leave(live: Live) -> None:
    alice = await live.connect(TOKEN_A)
    first = await alice.call("join_project", {"repo": "octo/hello"})
    assert logins(first["presence"]["members"]) == ["alice"]

    bob = await live.connect(TOKEN_B)
    second = await bob.call("join_project", {"repo": "octo/hello"})
    assert logins(second["presence"]["members"]) == ["alice", "bob"]
    assert second["presence"]["count"] == 2
    [joined] = await alice.wait_for("presence", lambda d: d["type"] == "joined")
    assert joined["member"]["login"] == "bob"
    assert joined["count"] == 2
    assert "sid" not in joined["member"], "other clients never learn a socket's sid"

    looking = {"repo": "octo/hello", "issue": 1, "field": "body", "status": "active"}
    assert (await bob.call("presence", looking))["ok"]
    [update] = await alice.wait_for("presence", lambda d: d["type"] == "updated")
    assert update["member"]["login"] == "bob"
    assert (update["member"]["issue"], update["member"]["field"]) == (1, "body")

    carol = await live.connect(TOKEN_C)
    third = await carol.call("join_project", {"repo": "octo/hello"})
    assert third["drafts"] == [{"number": 1, "editors": ["bob"]}]

    await bob.close()
    [left] = await alice.wait_for("presence", lambda d: d["type"] == "left")
    assert left["member"]["login"] == "bob"
    assert left["count"] == 2

    assert (await carol.call("leave_project", {"repo": "octo/hello"}))["ok"]
    [left_too] = await alice.wait_for(
        "presence", lambda d: d["type"] == "left" and d["member"]["login"] == "carol"
    )
    assert left_too["count"] == 1


async def test_the_roster_is_capped_and_counts_the_rest(make_live: LiveFactory) -> None:
    live = await make_live(presence_roster_max=2)
    clients = [await live.connect(token) for token in (TOKEN_A, TOKEN_B, TOKEN_C)]
    for client in clients[:2]:
        await client.call("join_project", {"repo": "octo/hello"})
    last = await clients[2].call("join_project", {"repo": "octo/hello"})
    assert len(last["presence"]["members"]) == 2
    assert last["presence"]["count"] == 3
    [beyond] = await clients[0].wait_for("presence", lambda d: d["count"] == 3)
    assert "member" not in beyond, "beyond the cap, deltas carry the count only"


async def test_rapid_updates_are_coalesced_and_the_last_one_wins(make_live: LiveFactory) -> None:
    live = await make_live(socket_presence_per_s=2)
    alice = await live.connect(TOKEN_A)
    bob = await live.connect(TOKEN_B)
    await alice.call("join_project", {"repo": "octo/hello"})
    await bob.call("join_project", {"repo": "octo/hello"})
    answers = [
        await bob.call("presence", {"repo": "octo/hello", "issue": n, "status": "active"})
        for n in range(1, 21)
    ]
    assert all(answer["ok"] for answer in answers)
    assert sum(answer["coalesced"] for answer in answers) >= 15
    await alice.wait_for("presence", lambda d: d.get("member", {}).get("issue") == 20)
    updates = [d for d in alice.received("presence") if d["type"] == "updated"]
    assert len(updates) < 20


async def test_a_retried_update_with_its_op_id_applies_once(live: Live) -> None:
    alice = await live.connect(TOKEN_A)
    await alice.call("join_project", {"repo": "octo/hello"})
    update = {"repo": "octo/hello", "issue": 1, "status": "active", "op_id": "op-0001-aaaa"}
    first = await alice.call("presence", update)
    newer = {"repo": "octo/hello", "issue": 2, "status": "active", "op_id": "op-0002-bbbb"}
    await alice.call("presence", newer)
    retry = await alice.call("presence", update)
    assert first == {"ok": True, "coalesced": False}
    assert retry == {"ok": True, "coalesced": False, "duplicate": True}
    bob = await live.connect(TOKEN_B)
    roster = (await bob.call("join_project", {"repo": "octo/hello"}))["presence"]["members"]
    [alice_entry] = [m for m in roster if m["login"] == "alice"]
    assert alice_entry["issue"] == 2, "the late retry did not undo the newer update"
    bad = await alice.call("presence", {**update, "op_id": "x"})
    assert bad["error"]["code"] == "invalid_op_id"


async def test_members_get_periodic_snapshots_of_the_whole_roster(
    make_live: LiveFactory,
) -> None:
    live = await make_live(presence_ttl_s=1)  # heartbeats every third of a second
    alice = await live.connect(TOKEN_A)
    bob = await live.connect(TOKEN_B)
    await alice.call("join_project", {"repo": "octo/hello"})
    await bob.call("join_project", {"repo": "octo/hello"})
    [snapshot] = await alice.wait_for(
        "presence", lambda d: d["type"] == "snapshot" and d["count"] == 2
    )
    assert snapshot["repo"] == "octo/hello"
    assert logins(snapshot["members"]) == ["alice", "bob"]


async def test_presence_comes_back_after_redis_lost_it(make_live: LiveFactory) -> None:
    live = await make_live(presence_ttl_s=1)
    alice = await live.connect(TOKEN_A)
    await alice.call("join_project", {"repo": "octo/hello"})
    presence = live.hub.presence
    assert presence is not None
    key = live.gateway.keys.presence(live.repo.id)
    await live.gateway.store.delete(key, live.gateway.keys.presence_expiry())
    # The next heartbeat puts the machine's entries back.
    async with asyncio.timeout(10):
        while not (await presence.roster(live.repo.id, 10))[0]:
            await asyncio.sleep(0.05)
    bob = await live.connect(TOKEN_B)
    roster = (await bob.call("join_project", {"repo": "octo/hello"}))["presence"]["members"]
    assert logins(roster) == ["alice", "bob"]
