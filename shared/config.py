"""The one typed settings object, read once from the environment and an optional `.env`.

Nothing else in Hubbub reads `os.environ`: the object is built at start-up and passed down.
Secrets are `starlette.datastructures.Secret`, which hides its value in `repr`.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from starlette.config import Config
from starlette.datastructures import Secret

StoreBackend = Literal["native", "rest", "embedded"]
# The MCP server's tool groups (mcp_server/toolsets.py), in the order tools are listed.
MCP_TOOLSETS = ("context", "repos", "issues", "pull_requests", "search", "live")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def _fresh_rules(raw: str) -> tuple[tuple[str, int], ...]:
    """Parse `/search=10,/notifications=0` into (path prefix, seconds), longest prefix first."""
    rules: list[tuple[str, int]] = []
    for item in filter(None, (part.strip() for part in raw.split(","))):
        prefix, sep, seconds = item.partition("=")
        if not sep or not prefix.startswith("/") or not seconds.strip().isdigit():
            raise SettingsError(
                f"HUBBUB_CACHE_FRESH_RULES: {item!r} is not of the form /path/prefix=seconds"
            )
        rules.append((prefix.strip().rstrip("/") or "/", int(seconds)))
    return tuple(sorted(rules, key=lambda rule: len(rule[0]), reverse=True))


@dataclass(frozen=True)
class Settings:
    # Where GitHub is.
    github_api_url: str = "https://api.github.com"
    github_token: Secret | None = None
    github_api_version: str = "2022-11-28"
    user_agent: str = "hubbub/0.1 (+https://github.com/hubbub)"

    # Where Redis is; nothing set means the embedded in-process store.
    redis_url: Secret | None = None
    upstash_rest_url: str | None = None
    upstash_rest_token: Secret | None = None
    key_prefix: str = "hubbub:"
    store_timeout_ms: int = 1000

    # How Hubbub is reached.
    public_url: str | None = None
    trust_proxy_headers: bool = False

    # Cache.
    cache_fresh_s: int = 60
    # Search results change with everything and no event announces it: kept briefly.
    cache_fresh_rules: tuple[tuple[str, int], ...] = (("/search", 10),)
    cache_ttl_s: int = 86_400
    cache_max_body_bytes: int = 1_048_576
    stale_max_s: int = 600
    invalidation_settle_s: int = 5
    l1_ttl_s: int = 1  # in-process tier: most an entry lives there unannounced (0: off)
    l1_max_entries: int = 10_000
    l1_max_bytes: int = 67_108_864

    # Caller rate limits (units per window; see README).
    caller_limit: int = 600
    anonymous_limit: int = 60
    graphql_limit: int = 100
    caller_window_s: int = 60
    cost_read: int = 1
    cost_upstream: int = 1
    cost_write: int = 5
    limit_lease_units: int = 10  # read units an instance takes at once (0: one at a time)
    limit_lease_ms: int = 1000

    # Upstream protection.
    upstream_timeout_s: float = 10.0
    upstream_concurrency: int = 10
    upstream_retries: int = 2
    retry_backoff_ms: int = 200
    write_spacing_ms: int = 1000
    penalty_default_s: int = 60
    flight_lease_ms: int = 15_000

    # Sign-in and sessions (see docs/identity.md).
    github_oauth_url: str = "https://github.com"
    github_client_id: str | None = None
    github_client_secret: Secret | None = None
    oauth_scopes: str = "read:user repo"
    allowed_origins: tuple[str, ...] = ()  # dashboards that may be sent back to after login
    session_algorithm: Literal["EdDSA", "HS256"] = "EdDSA"
    session_keys: Secret | None = None  # "kid:base64url,...": the first signs, all verify
    session_issuer: str = "hubbub"
    session_ttl_s: int = 900
    refresh_ttl_s: int = 2_592_000
    token_keys: Secret | None = None  # Fernet keys, comma-separated: the first encrypts
    token_check_ttl_s: int = 600  # how long a GitHub token passed through stays validated
    # A GitHub App installation as the server's own identity (instead of GITHUB_TOKEN).
    github_app_id: str | None = None
    github_app_private_key: Secret | None = None  # PEM; "\n" escapes allowed
    github_app_installation_id: str | None = None

    # Webhooks and the event bus.
    github_webhook_secret: Secret | None = None  # comma-separated: the first signs, all verify
    webhook_max_body_bytes: int = 26_214_400  # GitHub's own cap, 25 MiB
    webhook_dedupe_ttl_s: int = 432_000  # longer than GitHub's 3-day redelivery window
    event_stream_maxlen: int = 100_000
    repository_stream_maxlen: int = 1000
    event_claim_idle_ms: int = 30_000
    event_max_attempts: int = 5

    # The persistent server's Socket.IO rooms (see docs/realtime.md).
    machine_id: str | None = None  # this process's name in presence; default host-pid
    socket_max_message_bytes: int = 524_288  # one incoming Socket.IO message
    socket_rooms_max: int = 20  # projects and issues one socket may be in at once
    sockets_per_user_max: int = 20  # one caller's sockets open at once on one machine
    socket_queue_max: int = 500  # packets waiting to go out before a socket is dropped
    socket_stall_s: float = 10.0  # a socket whose peer takes no data this long is dropped
    socket_joins_per_min: int = 30
    socket_presence_per_s: int = 5  # presence writes; updates beyond are coalesced
    socket_ops_per_s: int = 10  # other mutations, with a burst of twice as many
    socket_edits_per_s: int = 30  # draft updates and operations, with a burst of twice as many
    draft_autosave_s: float = 0.0  # save a draft this long after its last edit; 0: only on save
    connect_limit: int = 30  # connects per caller window, per address and per user
    presence_ttl_s: int = 15  # a machine that stops heartbeating loses its presence after
    presence_roster_max: int = 100  # members listed per project; beyond, a count
    drain_s: float = 10.0  # SIGTERM: how long clients are given to move elsewhere
    direct_write: bool = True  # websocket frames and hot hits written straight to the socket
    demo_page: bool = False  # the demo dashboard at / (web/); `hubbub dev` turns it on

    # MCP (mcp_server/): which tools agents see, and how much one result may hold.
    mcp_toolsets: tuple[str, ...] = ("context", "repos", "issues", "pull_requests")
    mcp_read_only: bool = False
    mcp_result_max_chars: int = 20_000  # a tool result's text, notes included
    mcp_allowed_hosts: tuple[str, ...] = ()  # Host headers /mcp answers beyond the public URL
    mcp_session_idle_s: int = 1800  # a legacy session nobody uses is closed after

    # Request bounds.
    batch_max: int = 20
    max_request_body_bytes: int = 1_048_576

    # Logs.
    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

    @property
    def store_backend(self) -> StoreBackend:
        if self.redis_url is not None:
            return "native"
        if self.upstash_rest_url is not None:
            return "rest"
        return "embedded"

    @property
    def webhook_secrets(self) -> list[bytes]:
        """Every secret a delivery may be signed with, in order (rotation: new, old)."""
        if self.github_webhook_secret is None:
            return []
        raw = str(self.github_webhook_secret)
        return [part.strip().encode() for part in raw.split(",") if part.strip()]

    @property
    def session_key_list(self) -> list[tuple[str, bytes]]:
        """(kid, key bytes) for every session key, the signing key first."""
        return _session_keys(self.session_keys)

    @property
    def token_key_list(self) -> list[bytes]:
        """Every Fernet key a stored GitHub token may be sealed with, the sealing key first."""
        if self.token_keys is None:
            return []
        return [part.strip().encode() for part in str(self.token_keys).split(",") if part.strip()]

    @property
    def app_enabled(self) -> bool:
        return self.github_app_id is not None

    @property
    def app_private_key(self) -> str:
        """The App's PEM, with `\\n` escapes (how one-line secret stores hold it) undone."""
        return str(self.github_app_private_key).replace("\\n", "\n")

    @property
    def oauth_enabled(self) -> bool:
        return self.github_client_id is not None

    def fresh_s_for(self, path: str) -> int:
        """The fresh window for an upstream path: the longest matching rule, else the default."""
        for prefix, seconds in self.cache_fresh_rules:
            if path == prefix or path.startswith(prefix + "/") or prefix == "/":
                return seconds
        return self.cache_fresh_s

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def masked(self) -> dict[str, str]:
        """Every setting as its environment variable would show it, secrets masked."""
        shown: dict[str, str] = {}
        for name, variable in ENVIRONMENT.items():
            value = getattr(self, name)
            if isinstance(value, Secret):
                text = "********"
            elif value is None:
                text = ""
            elif name == "cache_fresh_rules":
                text = ",".join(f"{prefix}={seconds}" for prefix, seconds in value)
            elif isinstance(value, tuple):
                text = ",".join(value)
            elif isinstance(value, bool):
                text = "1" if value else "0"
            else:
                text = str(value)
            shown[variable] = text
        return shown

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, env_file: str | Path | None = ".env"
    ) -> Settings:
        """Read every variable in `ENVIRONMENT`; `.env` fills in what the environment lacks."""
        source = os.environ if environ is None else environ
        path = Path(env_file) if env_file is not None else None
        config = Config(path if path is not None and path.is_file() else None, environ=source)
        values: dict[str, Any] = {}
        defaults = cls()
        for name, variable in ENVIRONMENT.items():
            raw = config(variable, default=None)
            if raw is None or raw == "":
                continue
            values[name] = _cast(name, variable, raw, getattr(defaults, name))
        settings = cls(**values)
        _validate(settings)
        return settings


# Setting name -> environment variable. README's configuration table lists the same.
ENVIRONMENT: dict[str, str] = {
    "github_api_url": "GITHUB_API_URL",
    "github_token": "GITHUB_TOKEN",
    "github_api_version": "HUBBUB_GITHUB_API_VERSION",
    "user_agent": "HUBBUB_USER_AGENT",
    "redis_url": "REDIS_URL",
    "upstash_rest_url": "UPSTASH_REDIS_REST_URL",
    "upstash_rest_token": "UPSTASH_REDIS_REST_TOKEN",
    "key_prefix": "HUBBUB_KEY_PREFIX",
    "store_timeout_ms": "HUBBUB_STORE_TIMEOUT_MS",
    "public_url": "HUBBUB_PUBLIC_URL",
    "trust_proxy_headers": "HUBBUB_TRUST_PROXY_HEADERS",
    "cache_fresh_s": "HUBBUB_CACHE_FRESH_S",
    "cache_fresh_rules": "HUBBUB_CACHE_FRESH_RULES",
    "cache_ttl_s": "HUBBUB_CACHE_TTL_S",
    "cache_max_body_bytes": "HUBBUB_CACHE_MAX_BODY_BYTES",
    "stale_max_s": "HUBBUB_STALE_MAX_S",
    "invalidation_settle_s": "HUBBUB_INVALIDATION_SETTLE_S",
    "l1_ttl_s": "HUBBUB_L1_TTL",
    "l1_max_entries": "HUBBUB_L1_MAX_ENTRIES",
    "l1_max_bytes": "HUBBUB_L1_MAX_BYTES",
    "caller_limit": "HUBBUB_CALLER_LIMIT",
    "anonymous_limit": "HUBBUB_ANONYMOUS_LIMIT",
    "graphql_limit": "HUBBUB_GRAPHQL_LIMIT",
    "caller_window_s": "HUBBUB_CALLER_WINDOW_S",
    "cost_read": "HUBBUB_COST_READ",
    "cost_upstream": "HUBBUB_COST_UPSTREAM",
    "cost_write": "HUBBUB_COST_WRITE",
    "limit_lease_units": "HUBBUB_LIMIT_LEASE_UNITS",
    "limit_lease_ms": "HUBBUB_LIMIT_LEASE_MS",
    "upstream_timeout_s": "HUBBUB_UPSTREAM_TIMEOUT_S",
    "upstream_concurrency": "HUBBUB_UPSTREAM_CONCURRENCY",
    "upstream_retries": "HUBBUB_UPSTREAM_RETRIES",
    "retry_backoff_ms": "HUBBUB_RETRY_BACKOFF_MS",
    "write_spacing_ms": "HUBBUB_WRITE_SPACING_MS",
    "penalty_default_s": "HUBBUB_PENALTY_DEFAULT_S",
    "flight_lease_ms": "HUBBUB_FLIGHT_LEASE_MS",
    "github_oauth_url": "GITHUB_OAUTH_URL",
    "github_client_id": "GITHUB_CLIENT_ID",
    "github_client_secret": "GITHUB_CLIENT_SECRET",
    "oauth_scopes": "HUBBUB_OAUTH_SCOPES",
    "allowed_origins": "HUBBUB_ALLOWED_ORIGINS",
    "session_algorithm": "HUBBUB_SESSION_ALGORITHM",
    "session_keys": "HUBBUB_SESSION_KEYS",
    "session_issuer": "HUBBUB_SESSION_ISSUER",
    "session_ttl_s": "HUBBUB_SESSION_TTL_S",
    "refresh_ttl_s": "HUBBUB_REFRESH_TTL_S",
    "token_keys": "HUBBUB_TOKEN_KEYS",
    "token_check_ttl_s": "HUBBUB_TOKEN_CHECK_TTL_S",
    "github_app_id": "GITHUB_APP_ID",
    "github_app_private_key": "GITHUB_APP_PRIVATE_KEY",
    "github_app_installation_id": "GITHUB_APP_INSTALLATION_ID",
    "github_webhook_secret": "GITHUB_WEBHOOK_SECRET",
    "webhook_max_body_bytes": "HUBBUB_WEBHOOK_MAX_BODY_BYTES",
    "webhook_dedupe_ttl_s": "HUBBUB_WEBHOOK_DEDUPE_TTL_S",
    "event_stream_maxlen": "HUBBUB_EVENT_STREAM_MAXLEN",
    "repository_stream_maxlen": "HUBBUB_REPOSITORY_STREAM_MAXLEN",
    "event_claim_idle_ms": "HUBBUB_EVENT_CLAIM_IDLE_MS",
    "event_max_attempts": "HUBBUB_EVENT_MAX_ATTEMPTS",
    "machine_id": "HUBBUB_MACHINE_ID",
    "socket_max_message_bytes": "HUBBUB_SOCKET_MAX_MESSAGE_BYTES",
    "socket_rooms_max": "HUBBUB_SOCKET_ROOMS_MAX",
    "sockets_per_user_max": "HUBBUB_SOCKETS_PER_USER_MAX",
    "socket_queue_max": "HUBBUB_SOCKET_QUEUE_MAX",
    "socket_stall_s": "HUBBUB_SOCKET_STALL_S",
    "socket_joins_per_min": "HUBBUB_SOCKET_JOINS_PER_MIN",
    "socket_presence_per_s": "HUBBUB_SOCKET_PRESENCE_PER_S",
    "socket_ops_per_s": "HUBBUB_SOCKET_OPS_PER_S",
    "socket_edits_per_s": "HUBBUB_SOCKET_EDITS_PER_S",
    "draft_autosave_s": "HUBBUB_DRAFT_AUTOSAVE_S",
    "connect_limit": "HUBBUB_CONNECT_LIMIT",
    "presence_ttl_s": "HUBBUB_PRESENCE_TTL_S",
    "presence_roster_max": "HUBBUB_PRESENCE_ROSTER_MAX",
    "drain_s": "HUBBUB_DRAIN_S",
    "direct_write": "HUBBUB_DIRECT_WRITE",
    "demo_page": "HUBBUB_DEMO_PAGE",
    "batch_max": "HUBBUB_BATCH_MAX",
    "max_request_body_bytes": "HUBBUB_MAX_REQUEST_BODY_BYTES",
    "mcp_toolsets": "HUBBUB_MCP_TOOLSETS",
    "mcp_read_only": "HUBBUB_MCP_READ_ONLY",
    "mcp_result_max_chars": "HUBBUB_MCP_RESULT_MAX_CHARS",
    "mcp_allowed_hosts": "HUBBUB_MCP_ALLOWED_HOSTS",
    "mcp_session_idle_s": "HUBBUB_MCP_SESSION_IDLE_S",
    "log_level": "HUBBUB_LOG_LEVEL",
    "log_format": "HUBBUB_LOG_FORMAT",
}

_SECRETS = {
    "github_token",
    "redis_url",
    "upstash_rest_token",
    "github_webhook_secret",
    "github_client_secret",
    "session_keys",
    "token_keys",
    "github_app_private_key",
}
_KEY_ALPHABET = re.compile(r"[A-Za-z0-9_-]+={0,2}")
_KID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def _session_keys(raw: Secret | None) -> list[tuple[str, bytes]]:
    if raw is None:
        return []
    keys: list[tuple[str, bytes]] = []
    for item in filter(None, (part.strip() for part in str(raw).split(","))):
        kid, sep, encoded = item.partition(":")
        if not sep or not _KID.fullmatch(kid) or not _KEY_ALPHABET.fullmatch(encoded):
            # The message names the entry's position, never its text: it is a secret.
            raise SettingsError(
                f"HUBBUB_SESSION_KEYS: entry {len(keys) + 1} is not of the form kid:base64url"
            )
        keys.append((kid, base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))))
    return keys


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname or parts.path not in {"", "/"}:
        raise SettingsError(f"HUBBUB_ALLOWED_ORIGINS: {value!r} is not an http(s):// origin")
    return f"{parts.scheme}://{parts.netloc}".lower()


def _cast(name: str, variable: str, raw: str, default: Any) -> Any:
    if name in _SECRETS:
        return Secret(raw)
    if name == "cache_fresh_rules":
        return _fresh_rules(raw)
    if name == "allowed_origins":
        return tuple(_origin(part.strip()) for part in raw.split(",") if part.strip())
    if name in {"mcp_toolsets", "mcp_allowed_hosts"}:
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    try:
        if isinstance(default, bool):
            if raw.lower() in {"1", "true", "yes", "on"}:
                return True
            if raw.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            number = int(raw)
            if number < 0:
                raise ValueError(raw)
            return number
        if isinstance(default, float):
            number = float(raw)
            if number <= 0:
                raise ValueError(raw)
            return number
    except ValueError:
        kind = type(default).__name__
        raise SettingsError(f"{variable}: {raw!r} is not a valid {kind}") from None
    return raw


def _validate(settings: Settings) -> None:
    api = urlsplit(settings.github_api_url)
    loopback = api.hostname in {"127.0.0.1", "localhost", "::1"}
    if api.scheme != "https" and not (api.scheme == "http" and loopback):
        raise SettingsError("GITHUB_API_URL must be an https:// URL (http:// only on loopback)")
    if not api.hostname or api.query or api.fragment or api.username:
        raise SettingsError("GITHUB_API_URL must be a plain origin with an optional path")
    if settings.upstash_rest_url and settings.upstash_rest_token is None:
        raise SettingsError("UPSTASH_REDIS_REST_TOKEN is required with UPSTASH_REDIS_REST_URL")
    if settings.upstash_rest_token is not None and not settings.upstash_rest_url:
        raise SettingsError("UPSTASH_REDIS_REST_URL is required with UPSTASH_REDIS_REST_TOKEN")
    if settings.public_url:
        public = urlsplit(settings.public_url)
        if public.scheme not in {"http", "https"} or not public.hostname:
            raise SettingsError("HUBBUB_PUBLIC_URL must be an http(s):// origin")
    if settings.log_format not in {"json", "text"}:
        raise SettingsError("HUBBUB_LOG_FORMAT must be json or text")
    if settings.webhook_dedupe_ttl_s < 345_600:
        raise SettingsError(
            "HUBBUB_WEBHOOK_DEDUPE_TTL_S must be at least 345600 (4 days): GitHub redelivers"
            " for 3 days"
        )
    if settings.event_max_attempts == 0:
        raise SettingsError("HUBBUB_EVENT_MAX_ATTEMPTS must be at least 1")
    unknown = set(settings.mcp_toolsets) - {*MCP_TOOLSETS, "all"}
    if unknown:
        raise SettingsError(
            f"HUBBUB_MCP_TOOLSETS: unknown toolset {sorted(unknown)[0]!r}; choose from"
            f" {', '.join(MCP_TOOLSETS)} or all"
        )
    if settings.mcp_result_max_chars < 2000:
        raise SettingsError("HUBBUB_MCP_RESULT_MAX_CHARS must be at least 2000")
    if settings.caller_window_s == 0:
        raise SettingsError("HUBBUB_CALLER_WINDOW_S must be at least 1")
    if settings.presence_ttl_s == 0:
        raise SettingsError("HUBBUB_PRESENCE_TTL_S must be at least 1")
    _validate_identity(settings)


def _validate_identity(settings: Settings) -> None:
    oauth = urlsplit(settings.github_oauth_url)
    if oauth.scheme not in {"http", "https"} or not oauth.hostname or oauth.query:
        raise SettingsError("GITHUB_OAUTH_URL must be an http(s):// origin")
    if settings.session_algorithm not in {"EdDSA", "HS256"}:
        raise SettingsError("HUBBUB_SESSION_ALGORITHM must be EdDSA or HS256")
    keys = settings.session_key_list
    if len({kid for kid, _ in keys}) != len(keys):
        raise SettingsError("HUBBUB_SESSION_KEYS: two keys share one kid")
    for position, (_, key) in enumerate(keys, start=1):
        if settings.session_algorithm == "EdDSA" and len(key) != 32:
            raise SettingsError(
                f"HUBBUB_SESSION_KEYS: key {position} must be a 32-byte Ed25519 seed for EdDSA"
            )
        if settings.session_algorithm == "HS256" and len(key) < 32:
            raise SettingsError(f"HUBBUB_SESSION_KEYS: key {position} is under 32 bytes")
    for position, key in enumerate(settings.token_key_list, start=1):
        try:
            decoded = base64.urlsafe_b64decode(key)
        except ValueError:
            decoded = b""
        if len(decoded) != 32:
            raise SettingsError(f"HUBBUB_TOKEN_KEYS: key {position} is not a Fernet key")
    if settings.oauth_enabled:
        for name, value in (
            ("GITHUB_CLIENT_SECRET", settings.github_client_secret),
            ("HUBBUB_SESSION_KEYS", settings.session_keys),
            ("HUBBUB_TOKEN_KEYS", settings.token_keys),
        ):
            if value is None:
                raise SettingsError(f"{name} is required with GITHUB_CLIENT_ID")
    app = (
        settings.github_app_id,
        settings.github_app_private_key,
        settings.github_app_installation_id,
    )
    if any(value is not None for value in app) and not all(value is not None for value in app):
        raise SettingsError(
            "GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and GITHUB_APP_INSTALLATION_ID go together"
        )
    if settings.github_app_installation_id is not None and not (
        settings.github_app_installation_id.isdigit()
    ):
        raise SettingsError("GITHUB_APP_INSTALLATION_ID must be a number")
    if settings.github_app_private_key is not None and (
        "PRIVATE KEY-----" not in settings.app_private_key
    ):
        raise SettingsError("GITHUB_APP_PRIVATE_KEY must be the App's PEM private key")
    if settings.session_ttl_s < 60:
        raise SettingsError("HUBBUB_SESSION_TTL_S must be at least 60")
    if settings.refresh_ttl_s < settings.session_ttl_s:
        raise SettingsError("HUBBUB_REFRESH_TTL_S must be at least HUBBUB_SESSION_TTL_S")
