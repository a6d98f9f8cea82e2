"""A verified delivery, read from its headers and body; anything malformed is refused whole."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from shared.errors import BodyInvalid

_TOKEN = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")


@dataclass(frozen=True)
class Delivery:
    event: str  # X-GitHub-Event
    delivery_id: str  # X-GitHub-Delivery: shared by every hook on one event, kept on redelivery
    hook_id: str  # X-GitHub-Hook-ID ("-" when GitHub did not send one)
    payload: dict[str, Any]

    @property
    def action(self) -> str | None:
        action = self.payload.get("action")
        return action if isinstance(action, str) else None

    @property
    def repository(self) -> dict[str, Any] | None:
        repository = self.payload.get("repository")
        if (
            isinstance(repository, dict)
            and isinstance(repository.get("id"), int)
            and isinstance(repository.get("full_name"), str)
        ):
            return repository
        return None

    def log_fields(self) -> dict[str, Any]:
        """What may be logged about a delivery: never its headers or body."""
        repository = self.repository
        return {
            "event": self.event,
            "action": self.action,
            "delivery": self.delivery_id,
            "hook_id": self.hook_id,
            "repository": repository["full_name"] if repository else None,
        }


def header_token(value: str | None, name: str, *, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise BodyInvalid(f"the {name} header is required", code="missing_header")
        return None
    if not _TOKEN.match(value):
        raise BodyInvalid(f"the {name} header is malformed", code="invalid_header")
    return value


def parse(headers: dict[str, str], body: bytes) -> Delivery:
    """The delivery in `body`, sent as JSON or as a form with a `payload` field."""
    event = header_token(headers.get("x-github-event"), "X-GitHub-Event")
    delivery_id = header_token(headers.get("x-github-delivery"), "X-GitHub-Delivery")
    hook_id = header_token(headers.get("x-github-hook-id"), "X-GitHub-Hook-ID", required=False)
    content_type = headers.get("content-type", "application/json").split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
        if content_type == "application/x-www-form-urlencoded":
            text = parse_qs(text, strict_parsing=True)["payload"][0]
        elif content_type != "application/json":
            raise BodyInvalid(
                "deliveries must be application/json or application/x-www-form-urlencoded",
                code="unsupported_media_type",
                status=415,
            )
        payload = json.loads(text)
    except (UnicodeDecodeError, ValueError, KeyError, IndexError):
        raise BodyInvalid("the delivery is not valid JSON", code="invalid_json") from None
    if not isinstance(payload, dict):
        raise BodyInvalid("the delivery is not a JSON object", code="invalid_json")
    assert event is not None and delivery_id is not None
    return Delivery(event, delivery_id, hook_id or "-", payload)
