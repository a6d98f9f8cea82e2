"""Every Redis key name Hubbub uses, built from the configured prefix in this one place."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    prefix: str = "hubbub:"

    # Gateway cache: entries are keyed by a hash of (partition, method, path, Accept, version).
    def cache_entry(self, cache_key: str) -> str:
        return f"{self.prefix}cache:{cache_key}"

    def scope_version(self, scope: str) -> str:
        """A counter bumped whenever something under `scope` changes (writes, webhooks)."""
        return f"{self.prefix}scope:{scope}"

    def invalidation_channel(self) -> str:
        """Pub/sub: the scopes each invalidation bumped, for caches held in process memory."""
        return f"{self.prefix}invalidations"

    # Single flight across processes.
    def flight_lease(self, cache_key: str) -> str:
        return f"{self.prefix}flight:{cache_key}"

    def flight_result(self, cache_key: str) -> str:
        return f"{self.prefix}flight-result:{cache_key}"

    # Caller rate limits (GCRA theoretical arrival time).
    def caller_limit(self, bucket: str, limit_key: str) -> str:
        return f"{self.prefix}limit:{bucket}:{limit_key}"

    # Upstream protection, per GitHub token hash.
    def token_budget(self, token_hash: str, resource: str) -> str:
        return f"{self.prefix}budget:{token_hash}:{resource}"

    def token_penalty(self, token_hash: str) -> str:
        return f"{self.prefix}penalty:{token_hash}"

    def resource_penalty(self, token_hash: str, resource: str) -> str:
        return f"{self.prefix}penalty:{token_hash}:{resource}"

    def upstream_slots(self, token_hash: str) -> str:
        return f"{self.prefix}slots:{token_hash}"

    def write_lock(self, token_hash: str) -> str:
        return f"{self.prefix}write-lock:{token_hash}"
