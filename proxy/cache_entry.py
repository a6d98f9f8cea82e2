"""A stored GitHub answer and when GitHub last vouched for it, encoded as text for the Store."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from proxy.messages import CacheOutcome, GatewayResponse
from proxy.scopes import last_change_ms

# How long an answer GitHub gave just after a change stays fresh: GitHub's API can lag its
# own webhooks, so such an answer may predate the change, and is checked again soon.
RECHECK_MS = 1000


@dataclass
class CacheEntry:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    validated_ms: int  # when GitHub last answered 200 or 304 for it
    stamp: str  # its scopes' versions when GitHub was asked (proxy/scopes.py)

    @property
    def etag(self) -> str | None:
        return _find(self.headers, "etag")

    @property
    def last_modified(self) -> str | None:
        return _find(self.headers, "last-modified")

    def age_s(self, now_ms: int) -> int:
        return max(0, (now_ms - self.validated_ms) // 1000)

    def is_fresh(self, now_ms: int, fresh_s: int, stamp: str, settle_ms: int) -> bool:
        """Fresh while inside its window and nothing under its scopes changed since.

        An answer validated within `settle_ms` of the last change to its scopes is fresh
        for only RECHECK_MS: it may be GitHub's view from before the change.
        """
        if fresh_s <= 0 or self.stamp != stamp:
            return False
        return now_ms < self.fresh_until_ms(fresh_s, settle_ms)

    def fresh_until_ms(self, fresh_s: int, settle_ms: int) -> int:
        """When the entry stops being fresh, if nothing under its scopes changes first."""
        window_ms = fresh_s * 1000
        if self.validated_ms - last_change_ms(self.stamp) < settle_ms:
            window_ms = min(window_ms, RECHECK_MS)
        return self.validated_ms + window_ms

    def to_response(self, outcome: CacheOutcome, now_ms: int) -> GatewayResponse:
        return GatewayResponse(
            status=self.status,
            headers=list(self.headers),
            body=self.body,
            outcome=outcome,
            age_s=self.age_s(now_ms),
            entry=self,
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
                "v": self.stamp,
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
                stamp=str(raw["v"]),
            )
        except (ValueError, KeyError, TypeError):
            return None

    @classmethod
    def from_response(cls, response: GatewayResponse, now_ms: int, stamp: str) -> CacheEntry:
        return cls(response.status, list(response.headers), response.body, now_ms, stamp)


def _find(headers: list[tuple[str, str]], name: str) -> str | None:
    for key, value in headers:
        if key == name:
            return value
    return None
