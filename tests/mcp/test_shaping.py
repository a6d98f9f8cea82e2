"""The size cap holds for any result: valid JSON, never longer than the cap, and every
note about a cut text belongs to an item that is still shown."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mcp_server.shaping import result

TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=3000)
ITEM = st.fixed_dictionaries({"number": st.integers(1, 10**6), "title": TEXT, "body": TEXT})


@settings(max_examples=150, deadline=None)
@given(
    items=st.lists(ITEM, max_size=60),
    one=st.none() | ITEM,
    cap=st.integers(2000, 12_000),
    offset=st.none() | st.integers(0, 4000),
)
def test_any_result_is_valid_json_within_the_cap(
    items: list[dict[str, object]], one: dict[str, object] | None, cap: int, offset: int | None
) -> None:
    payload: dict[str, object] = {"items": items}
    if one is not None:
        payload["item"] = one
    text = result(payload, cap=cap, notes=["a note"], offset=offset).content[0].text  # type: ignore[union-attr]
    assert len(text) <= cap
    shown = json.loads(text)
    numbers = {str(item["number"]) for item in shown.get("items", [])}
    if isinstance(shown.get("item"), dict):
        numbers.add(str(shown["item"]["number"]))
    for note in shown.get("notes", []):
        if note.startswith("'body' of "):
            assert note.split()[2] in numbers


def test_a_long_title_alone_still_gives_valid_json() -> None:
    text = result({"item": {"title": '"\\\n' * 10_000}}, cap=3000).content[0].text  # type: ignore[union-attr]
    assert len(text) <= 3000
    assert "truncated" in json.loads(text)


def test_a_thousand_entries_keep_a_prefix_and_say_so() -> None:
    entries = [{"name": f"file-{n}.py", "type": "file", "size": n} for n in range(1000)]
    shown = json.loads(result({"items": entries}, cap=5000).content[0].text)  # type: ignore[union-attr]
    kept = shown["items"]
    assert kept == entries[: len(kept)] and 0 < len(kept) < 1000
    assert f"Only {len(kept)} of 1000 items" in shown["notes"][-1]


def test_a_huge_commit_message_is_cut_not_the_whole_answer() -> None:
    message = "Fix the parser\n\n" + "A long explanation. " * 2500
    files = [{"filename": f"f{n}.py", "status": "modified"} for n in range(5)]
    payload = {"item": {"sha": "abc", "message": message}, "items": files}
    text = result(payload, cap=5000, notes=["n" * 700]).content[0].text  # type: ignore[union-attr]
    shown = json.loads(text)
    assert len(text) <= 5000
    assert shown["item"]["message"].startswith("Fix the parser")
    assert shown["items"] == files


def test_a_list_with_one_long_message_keeps_the_item() -> None:
    commits = [{"sha": "abc", "message": "x" * 30_000}]
    shown = json.loads(result({"items": commits}, cap=20_000).content[0].text)  # type: ignore[union-attr]
    assert shown["items"][0]["sha"] == "abc"
    assert 0 < len(shown["items"][0]["message"]) < 30_000
