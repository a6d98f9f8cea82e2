"""A stored GitHub answer and when GitHub last vouched for it, encoded as text for the Store."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from proxy.messages import CacheOutcome, GatewayResponse


@dataclass
class CacheEntry:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    validated_ms: int  # when GitHub last answered 200 or 304 for it
    scope_version: str  # the scope's change counter at that moment

    @property
    def etag(self) -> str | None:
        return _find(self.headers, "etag")

    @property
    def last_modified(self) -> str | None:
        return _find(self.headers, "last-modified")

    def age_s(self, now_ms: int) -> int:
        return max(0, (now_ms - self.validated_ms) // 1000)

    def is_fresh(self, now_ms: int, fresh_s: int, scope_version: str) -> bool:
        """Fresh while inside its window and nothing under its scope changed since."""
        return (
            fresh_s > 0
            and now_ms - self.validated_ms < fresh_s * 1000
            and self.scope_version == scope_version
        )

    def to_response(self, outcome: CacheOutcome, now_ms: int) -> GatewayResponse:
        return GatewayResponse(
            status=self.status,
            headers=list(self.headers),
            body=self.body,
            outcome=outcome,
            age_s=self.age_s(now_ms),
        )

    def encode(self) -> str:
        try:
            body, is_base64 = self.body.decode("utf-8"), False
        except UnicodeDecodeError:
            body, is_base64 = base64.b64encode(self.body).decode("ascii"), True
        return json.dumps(
            {
                "s": self.status,
                "h": self.headers,
                "b": body,
                "b64": is_base64,
                "t": self.validated_ms,
                "v": self.scope_version,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str | None) -> CacheEntry | None:
        """The entry, or None for a missing or unreadable one (treated as a miss)."""
        if not text:
            return None
        try:
            raw = json.loads(text)
            body = base64.b64decode(raw["b"]) if raw["b64"] else raw["b"].encode("utf-8")
            return cls(
                status=int(raw["s"]),
                headers=[(str(k), str(v)) for k, v in raw["h"]],
                body=body,
                validated_ms=int(raw["t"]),
                scope_version=str(raw["v"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    @classmethod
    def from_response(
        cls, response: GatewayResponse, now_ms: int, scope_version: str
    ) -> CacheEntry:
        return cls(response.status, list(response.headers), response.body, now_ms, scope_version)


def _find(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None
