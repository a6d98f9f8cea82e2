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

    # The event bus (shared/events) and webhook deliveries.
    def event_stream(self) -> str:
        return f"{self.prefix}events"

    def repository_stream(self, repository_id: int) -> str:
        return f"{self.prefix}events:repo:{repository_id}"

    def repository_stream_first(self, repository_id: int) -> str:
        """The first id ever appended to a repository's stream: tells a trimmed gap apart."""
        return f"{self.prefix}events-first:{repository_id}"

    def repository_names(self, repository_id: int) -> str:
        return f"{self.prefix}repo-names:{repository_id}"

    def repository_id(self, full_name: str) -> str:
        return f"{self.prefix}repo-id:{full_name.lower()}"

    def dead_letters(self) -> str:
        return f"{self.prefix}events:dead"

    def event_failures(self, group: str) -> str:
        return f"{self.prefix}events:failures:{group}"

    def lost_delivery(self, repository_id: int) -> str:
        """Set while a repository resyncs after a delivery too large to read (rate limit)."""
        return f"{self.prefix}lost-delivery:{repository_id}"

    def webhook_delivery(self, hook_id: str, delivery_id: str) -> str:
        return f"{self.prefix}delivery:{hook_id}:{delivery_id}"

    # Identity: sessions (sealed GitHub token + refresh family), OAuth flows in flight,
    # GitHub tokens passed through and already checked.
    def session(self, session_id: str) -> str:
        return f"{self.prefix}session:{session_id}"

    def oauth_state(self, name: str) -> str:
        return f"{self.prefix}oauth-state:{name}"

    def checked_token(self, token_hash: str) -> str:
        return f"{self.prefix}github-user:{token_hash}"

    def app_token(self, installation_id: str) -> str:
        """The GitHub App installation's current token, sealed."""
        return f"{self.prefix}app-token:{installation_id}"

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

    # The persistent server's rooms (realtime/): presence per project, the fleet's presence
    # expiries, machine heartbeats, the sweeper's turn, and mutations already applied.
    def presence(self, repository_id: int | str) -> str:
        return f"{self.prefix}presence:{repository_id}"

    def presence_expiry(self) -> str:
        return f"{self.prefix}presence-expiry"

    def machine(self, machine_id: str) -> str:
        return f"{self.prefix}machine:{machine_id}"

    def presence_sweeper(self) -> str:
        return f"{self.prefix}presence-sweeper"

    def socket_op(self, user: str, op_id: str) -> str:
        return f"{self.prefix}op:{user}:{op_id}"

    # Issue drafts (realtime/drafts/): the snapshot and base of each, its update log, who
    # compacts it, who writes it to GitHub, who is editing which field, and the channel
    # replicas on other machines hear updates on.
    def draft(self, repository_id: int, number: int) -> str:
        return f"{self.prefix}draft:{repository_id}:{number}"

    def draft_log(self, repository_id: int, number: int) -> str:
        return f"{self.prefix}draft:{repository_id}:{number}:log"

    def draft_compactor(self, repository_id: int, number: int) -> str:
        return f"{self.prefix}draft:{repository_id}:{number}:compactor"

    def draft_writer(self, repository_id: int, number: int) -> str:
        return f"{self.prefix}draft:{repository_id}:{number}:writer"

    def draft_field(self, repository_id: int, number: int, field: str) -> str:
        return f"{self.prefix}draft:{repository_id}:{number}:field:{field}"

    def draft_channel(self) -> str:
        return f"{self.prefix}drafts"

    # MCP (mcp_server/): which machine holds each session-based session, each stream's
    # events for resumption, the channel resource changes are told on, and agents' handles.
    def mcp_session(self, session_id: str) -> str:
        return f"{self.prefix}mcp:session:{session_id}"

    def mcp_stream(self, stream_id: str) -> str:
        return f"{self.prefix}mcp:stream:{stream_id}"

    def mcp_channel(self) -> str:
        return f"{self.prefix}mcp:changes"

    def mcp_agents_channel(self) -> str:
        return f"{self.prefix}mcp:agents"

    def mcp_handle(self, user: str, handle: str) -> str:
        return f"{self.prefix}mcp:handle:{user}:{handle}"
