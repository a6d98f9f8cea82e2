"""The draft document and its storage, without a server: concurrent edits converge and
lose nothing, GitHub's changes merge into edited drafts, and the Store's scripts hold
under races (real Redis and the embedded store)."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycrdt import Doc, merge_updates

from realtime.drafts.document import Draft, IssueValues, moved_fields
from realtime.drafts.replicas import fork_client_id
from realtime.drafts.storage import DraftStorage
from realtime.drafts.updates import MalformedUpdate
from shared.store import SubscribingStore
from shared.store.keys import Keys

BASE_AT = "2026-01-01T00:00:00Z"

# (replica, where in its body as a fraction, text to insert)
typing = st.lists(
    st.tuples(
        st.integers(0, 2),
        st.floats(0, 1),
        st.text(alphabet="abcdé😀 \n", min_size=1, max_size=5),
    ),
    min_size=1,
    max_size=40,
)


def replicas(n: int = 3) -> list[Draft]:
    seed = Draft.seeded(IssueValues(title="T", body="start"), BASE_AT).state()
    return [Draft.from_updates(seed) for _ in range(n)]


@settings(max_examples=60, deadline=None)
@given(edits=typing, seed=st.integers(0, 2**32))
def test_concurrent_typing_converges_and_keeps_every_character(
    edits: list[tuple[int, float, str]], seed: int
) -> None:
    """Three replicas type without hearing each other, then exchange their updates in a
    random order, some twice: all end equal, with every typed character present."""
    rng = random.Random(seed)
    drafts = replicas()
    sent: list[tuple[int, bytes]] = []
    for who, where, text in edits:
        body = drafts[who].values().body
        index = round(where * len(body))
        change = drafts[who].operate(
            "splice_body", {"index": index, "insert": text}, origin=str(who)
        )
        assert change is not None
        sent.append((who, change))
        if rng.random() < 0.3:  # sometimes a replica hears one update early
            other = rng.randrange(3)
            if other != who:
                drafts[other].apply(change)
    deliveries = [(to, change) for to in range(3) for who, change in sent if who != to]
    deliveries += rng.sample(deliveries, k=len(deliveries) // 4)  # duplicates
    rng.shuffle(deliveries)
    for to, change in deliveries:
        drafts[to].apply(change)

    bodies = {d.values().body for d in drafts}
    assert len(bodies) == 1
    body = bodies.pop()
    typed = "start" + "".join(text for _, _, text in edits)
    assert sorted(body) == sorted(typed)


def github_merge(
    base: bytes, theirs: IssueValues, at: str = "2026-01-02T00:00:00Z"
) -> tuple[Draft, bytes | None, int]:
    """What `Drafts.adopt` does: the fork at the base, GitHub's edits made on it, and the
    client id that made them."""
    fields = moved_fields(Draft.from_updates(base).values(), theirs)
    client_id = fork_client_id((1, 1), base, theirs, at, fields)
    fork = Draft(Doc(client_id=client_id))
    fork.apply(base)
    return fork, fork.github_changes(theirs, at, fields), client_id


def test_a_github_change_merges_into_a_draft_edited_since_its_base() -> None:
    seed = Draft.seeded(
        IssueValues(title="Crash", body="line one\nline two\n", labels=frozenset({"bug"})),
        BASE_AT,
    )
    base = seed.state()
    live = Draft.from_updates(base)
    live.operate("splice_body", {"index": 0, "insert": "Ana: "}, origin="ana")
    live.operate("add_label", {"label": "ui"}, origin="ana")
    theirs = IssueValues(
        title="Crash on save",
        body="line one\nline 2\n",
        labels=frozenset({"bug", "p1"}),
        state="closed",
        state_reason="completed",
    )
    fork, change, _ = github_merge(base, theirs)
    assert change is not None
    live.apply(change)
    merged = live.values()
    assert merged.title == "Crash on save"
    assert merged.body == "Ana: line one\nline 2\n"
    assert merged.labels == {"bug", "p1", "ui"}
    assert merged.state == "closed"
    assert live.base_updated_at == "2026-01-02T00:00:00Z"
    # The fork now is GitHub's issue: what a later merge diffs from.
    assert fork.values() == theirs

    # The same merge made again (by another machine, from the same draft) changes nothing.
    _, repeat, _ = github_merge(base, theirs)
    assert repeat is not None
    assert live.apply(repeat) is None
    assert live.values() == merged


def test_the_same_merge_makes_the_same_items_in_every_process() -> None:
    """Set order follows each process's string hash seed; the edits must not."""
    base = Draft.seeded(IssueValues(title="T", labels=frozenset({"a", "b", "c"})), BASE_AT)
    script = (
        "import sys\n"
        "from realtime.drafts.document import IssueValues\n"
        "from tests.realtime.test_draft_document import github_merge\n"
        "theirs = IssueValues(title='T', labels=frozenset({'p1', 'p2', 'p3', 'a'}))\n"
        "print(github_merge(bytes.fromhex(sys.argv[1]), theirs)[1].hex())\n"
    )
    made = {
        subprocess.run(
            [sys.executable, "-c", script, base.state().hex()],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert len(made) == 1


def test_a_patch_holds_only_what_differs_from_github() -> None:
    github = IssueValues(title="A", body="b", labels=frozenset({"x"}), milestone=1)
    assert github.patch_against(github) == {}
    ours = IssueValues(
        title="A",
        body="b!",
        labels=frozenset({"x", "y"}),
        state="closed",
        state_reason="not_planned",
    )
    assert ours.patch_against(github) == {
        "body": "b!",
        "labels": ["x", "y"],
        "state": "closed",
        "state_reason": "not_planned",
        "milestone": None,
    }


def test_values_from_githubs_json() -> None:
    values = IssueValues.from_github(
        {
            "title": "T",
            "body": None,
            "labels": [{"name": "bug"}, "loose"],
            "assignees": [{"login": "ana"}],
            "state": "closed",
            "state_reason": "completed",
            "milestone": {"number": 4},
        }
    )
    assert values == IssueValues(
        "T", "", frozenset({"bug", "loose"}), frozenset({"ana"}), "closed", "completed", 4
    )


# --- storage ------------------------------------------------------------------------


async def test_two_machines_creating_one_draft_seed_it_once(
    subscribing_store: SubscribingStore,
) -> None:
    keys = Keys("test:")
    machines = [DraftStorage(subscribing_store, keys, name) for name in ("a", "b")]
    seeds = [
        Draft.seeded(IssueValues(title="Same", body="text"), BASE_AT).state() for _ in machines
    ]
    created = await asyncio.gather(
        *(m.create(7, 1, seed, BASE_AT) for m, seed in zip(machines, seeds, strict=True))
    )
    assert sorted(created) == [False, True]
    stored = await machines[0].load(7, 1)
    assert stored is not None
    assert Draft.from_updates(stored.snapshot).values().body == "text"


async def test_compaction_folds_the_log_and_keeps_every_update(
    subscribing_store: SubscribingStore,
) -> None:
    storage = DraftStorage(subscribing_store, Keys("test:"), "a")
    draft = Draft.seeded(IssueValues(title="T"), BASE_AT)
    assert await storage.create(7, 2, draft.state(), BASE_AT)
    for word in ("one ", "two ", "three "):
        change = draft.operate("splice_body", {"index": 0, "insert": word}, origin="a")
        assert change is not None
        await storage.append(7, 2, [change])
    stored = await storage.load(7, 2)
    assert stored is not None and len(stored.log) == 3
    seen = stored.log[0][0]

    compactions = await asyncio.gather(storage.compact(7, 2), storage.compact(7, 2))
    assert sorted(compactions) == [False, True]  # one compactor at a time
    stored = await storage.load(7, 2)
    assert stored is not None and stored.log == []
    assert Draft.from_updates(stored.snapshot).values().body == "three two one "
    # A replica that had applied only the first entry gets the snapshot to catch up.
    missed = await storage.since(7, 2, seen)
    assert missed is not None and missed.snapshot
    assert Draft.from_updates(missed.snapshot).values().body == "three two one "


def test_merged_updates_with_holes_wait_for_what_fills_them() -> None:
    """A merged update can skip a range (Yjs encodes the hole as a Skip struct): it is
    held until the hole is filled, never handed to Yrs early, whatever the order."""
    seed = Draft.seeded(IssueValues(title="T", body="start"), BASE_AT).state()
    source = Draft.from_updates(seed)
    steps = [
        source.operate("splice_body", {"index": 0, "insert": letter}, origin="s")
        for letter in "abcdef"
    ]
    assert all(steps)
    holey = [merge_updates(steps[0], steps[2]), merge_updates(steps[3], steps[5])]
    fillers = [steps[1], steps[4]]
    for order in ([*holey, *fillers], [*fillers, *holey], [holey[1], fillers[1], holey[0]]):
        target = Draft.from_updates(seed)
        for update in order:
            target.apply(update)
        target.apply(fillers[0])
        target.apply(fillers[1])
        assert target.values().body == source.values().body
        assert target.held == 0


def test_an_update_yrs_cannot_read_is_refused_not_held() -> None:
    draft = Draft.seeded(IssueValues(title="T"), BASE_AT)
    # A well-formed struct header whose content is a JSON string that is not JSON.
    bogus = bytes([1, 1, 7, 0, 2, 1, 1, 4, ord("b"), ord("o"), ord("d"), ord("y"), 1, 3]) + b"{{{"
    bogus += bytes([0])
    for update in (bogus, b"\xff\xff\xff", b""):
        with pytest.raises(MalformedUpdate):
            draft.apply(update)
    assert draft.held == 0


def test_a_new_reason_for_a_closed_issue_is_saved() -> None:
    github = IssueValues(title="T", state="closed", state_reason="completed")
    ours = IssueValues(title="T", state="closed", state_reason="not_planned")
    assert ours.patch_against(github) == {"state": "closed", "state_reason": "not_planned"}
