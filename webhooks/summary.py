"""The envelope for a delivery: the few fields a UI shows, read defensively from the payload."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.events import Envelope, Repository, Subject
from webhooks.delivery import Delivery

_TITLE_MAX = 300


def _text(value: Any, limit: int = _TITLE_MAX) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _subject(delivery: Delivery) -> tuple[Subject | None, dict[str, Any]]:
    payload = delivery.payload
    for kind in ("pull_request", "issue"):
        item = payload.get(kind)
        if isinstance(item, dict) and isinstance(item.get("number"), int):
            is_pull = kind == "pull_request" or isinstance(item.get("pull_request"), dict)
            labels = [
                label["name"]
                for label in item.get("labels") or []
                if isinstance(label, dict) and isinstance(label.get("name"), str)
            ]
            data = {
                "title": _text(item.get("title")),
                "state": _text(item.get("state"), 20),
                "labels": labels,
                "url": _text(item.get("html_url"), 500),
            }
            if kind == "pull_request":
                data["merged"] = item.get("merged") is True
            return Subject("pull_request" if is_pull else "issue", number=item["number"]), data
    if isinstance(payload.get("ref"), str):
        data = {"ref_type": _text(payload.get("ref_type"), 20)}
        if isinstance(payload.get("commits"), list):
            data["commits"] = len(payload["commits"])
            data["forced"] = payload.get("forced") is True
        return Subject("ref", ref=_text(payload["ref"])), data
    release = payload.get("release")
    if isinstance(release, dict):
        data = {"title": _text(release.get("name")), "url": _text(release.get("html_url"), 500)}
        return Subject("release", ref=_text(release.get("tag_name"))), data
    return None, {}


def envelope_for(delivery: Delivery, now: datetime | None = None) -> Envelope:
    repository = delivery.repository
    subject, data = _subject(delivery)
    sender = delivery.payload.get("sender")
    actor = sender.get("login") if isinstance(sender, dict) else None
    return Envelope(
        type=f"github.{delivery.event}",
        action=delivery.action,
        repository=Repository(repository["id"], repository["full_name"]) if repository else None,
        subject=subject,
        actor=actor if isinstance(actor, str) else None,
        delivery=delivery.delivery_id,
        time=(now or datetime.now(UTC)).isoformat(timespec="seconds").replace("+00:00", "Z"),
        data={key: value for key, value in data.items() if value is not None},
    )
