"""The `hubbub` command: `dev`, `serve`, `mcp`, `config`, `keys`, `events tail` and
`webhooks send`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
from pathlib import Path

from shared.config import Settings, SettingsError
from shared.logging import configure_logging, uvicorn_log_config

APP_FACTORY = "realtime.app:create_app_from_env"
PACKAGES = ("shared", "proxy", "webhooks", "realtime", "mcp_server")


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as error:
        sys.exit(f"hubbub: configuration error: {error}")


def _dev(args: argparse.Namespace) -> None:
    import uvicorn

    _dev_keys()
    # The demo dashboard at / (web/), unless the environment says otherwise.
    os.environ.setdefault("HUBBUB_DEMO_PAGE", "1")
    settings = _settings()
    configure_logging(settings.log_level, "text")
    print(
        f"Hubbub dev on http://{args.host}:{args.port}  "
        f"(store: {settings.store_backend}; "
        f"{'dashboard: /; ' if settings.demo_page else ''}"
        "try /api/github/rate_limit; agents: /mcp)",
        file=sys.stderr,
    )
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        reload=args.reload,
        reload_dirs=list(PACKAGES) if args.reload else None,
        log_config=uvicorn_log_config(settings.log_level, "text"),
        ws_per_message_deflate=False,
        ws_ping_interval=None,
    )


def _dev_keys() -> None:
    """`hubbub dev` signs sessions without set-up: keys made now, for this run (and its
    reloads, which inherit the environment); `serve` and Vercel never do this. Read raw,
    before the settings are validated: sign-in (GITHUB_CLIENT_ID) requires these keys."""
    from starlette.config import Config

    env_file = Path(".env")
    config = Config(env_file if env_file.is_file() else None)
    if not config("HUBBUB_SESSION_KEYS", default=""):
        from shared.identity.session_tokens import new_key_entry

        algorithm = config("HUBBUB_SESSION_ALGORITHM", default="") or "EdDSA"
        os.environ["HUBBUB_SESSION_KEYS"] = new_key_entry(algorithm, "dev")
    if not config("HUBBUB_TOKEN_KEYS", default=""):
        from cryptography.fernet import Fernet

        os.environ["HUBBUB_TOKEN_KEYS"] = Fernet.generate_key().decode()


def _keys(args: argparse.Namespace) -> None:
    from cryptography.fernet import Fernet

    from shared.identity.session_tokens import new_key_entry

    print(f"HUBBUB_SESSION_ALGORITHM={args.algorithm}")
    print(f"HUBBUB_SESSION_KEYS={new_key_entry(args.algorithm)}")
    print(f"HUBBUB_TOKEN_KEYS={Fernet.generate_key().decode()}")


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    from realtime.drain import DrainingServer

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    config = uvicorn.Config(
        APP_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        access_log=False,
        log_config=uvicorn_log_config(settings.log_level, settings.log_format),
        # Deflate costs a fifth of a broadcast's CPU, and Node's socket.io has it off too.
        ws_per_message_deflate=False,
        # engine.io pings every socket itself; uvicorn's websocket pings on top cost
        # ~20 ms of CPU a second per 1000 idle sockets and find nothing engine.io does not.
        ws_ping_interval=None,
        # After the drain (HUBBUB_DRAIN_S), what is left gets this long to finish.
        timeout_graceful_shutdown=10,
    )
    DrainingServer(config).run()


def _mcp(args: argparse.Namespace) -> None:
    from mcp_server.stdio import credential, serve_stdio
    from shared.errors import NotAuthenticated

    settings = _settings()
    # stdout carries the protocol: logs go to stderr, as always.
    configure_logging(settings.log_level, "text")
    token = credential(settings)
    if token is None:
        sys.exit("hubbub: mcp needs a credential: set HUBBUB_TOKEN or GITHUB_TOKEN")
    try:
        asyncio.run(serve_stdio(settings, token))
    except NotAuthenticated as error:
        sys.exit(f"hubbub: the credential was refused: {error}")
    except KeyboardInterrupt:
        pass


def _config(args: argparse.Namespace) -> None:
    for variable, value in _settings().masked().items():
        print(f"{variable}={value}")


def _events_tail(args: argparse.Namespace) -> None:
    from realtime.event_tools import tail_events
    from shared.store import connect
    from shared.store.keys import Keys

    settings = _settings()
    if settings.store_backend == "embedded":
        sys.exit(
            "hubbub: events tail needs REDIS_URL or UPSTASH_REDIS_REST_*: the embedded"
            " store lives inside the server process"
        )

    async def run() -> None:
        store = connect(settings)
        try:
            await tail_events(
                store, Keys(settings.key_prefix), repo=args.repo, count=args.count, since=args.since
            )
        finally:
            await store.aclose()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())


def _webhooks_send(args: argparse.Namespace) -> None:
    from realtime.event_tools import send_delivery

    settings = _settings()
    secrets = settings.webhook_secrets
    if args.secret is not None:
        secrets = [args.secret.encode()]
    if not secrets:
        sys.exit("hubbub: set GITHUB_WEBHOOK_SECRET (or pass --secret) to sign the delivery")
    if not args.file.is_file():
        sys.exit(f"hubbub: no such file: {args.file}")
    body = args.file.read_bytes()
    response = asyncio.run(send_delivery(args.url, args.event, body, secrets[0]))
    print(f"{response.status_code} {response.text}")
    if response.status_code >= 400:
        sys.exit(1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hubbub",
        description="A caching, rate-limiting GitHub gateway, real-time rooms and an "
        "MCP server, on one Redis.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser(
        "dev",
        help="run every layer in one process for local work",
        description="Run the whole of Hubbub in one process on http://127.0.0.1:8000, with "
        "the embedded store unless REDIS_URL or UPSTASH_REDIS_REST_* are set, readable "
        "logs, and a reload on code changes.",
    )
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--no-reload", dest="reload", action="store_false", help="do not reload")
    dev.set_defaults(handler=_dev)

    serve = commands.add_parser(
        "serve",
        help="run the persistent server for production",
        description="Serve the same app as `dev` with production settings: JSON logs, "
        "no reload, no access log, proxy headers from trusted addresses. SIGTERM drains: "
        "clients are told to reconnect elsewhere and disconnected over HUBBUB_DRAIN_S.",
    )
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server listens on all
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="addresses whose X-Forwarded-* headers are trusted (uvicorn's option)",
    )
    serve.set_defaults(handler=_serve)

    mcp = commands.add_parser(
        "mcp",
        help="serve the MCP server over stdio, for a local agent",
        description="Serve Hubbub's MCP tools over stdin/stdout as the user of "
        "HUBBUB_TOKEN (a Hubbub session token) or GITHUB_TOKEN, through a gateway in this "
        "process on the configured store (REDIS_URL shares the fleet's cache).",
    )
    mcp.set_defaults(handler=_mcp)

    config = commands.add_parser(
        "config",
        help="print the effective settings, secrets masked",
        description="Print every setting as NAME=value, read from the environment and "
        ".env, with secrets masked.",
    )
    config.set_defaults(handler=_config)

    keys = commands.add_parser(
        "keys",
        help="print new session and token keys",
        description="Print a new session signing key and a new token-sealing key as "
        "environment lines. To rotate, put the new entry first in the existing list and "
        "keep the old one after it until its last token has expired (sessions: "
        "HUBBUB_SESSION_TTL_S; sealed tokens: until every session has been refreshed).",
    )
    keys.add_argument("--algorithm", choices=["EdDSA", "HS256"], default="EdDSA")
    keys.set_defaults(handler=_keys)

    events = commands.add_parser("events", help="watch the event stream")
    events_commands = events.add_subparsers(dest="events_command", required=True)
    tail = events_commands.add_parser(
        "tail",
        help="print events as they arrive, one JSON object a line",
        description="Print every new event on the stream (webhook deliveries and Hubbub's "
        "own) as one JSON envelope a line, from now on, until interrupted.",
    )
    tail.add_argument("--repo", help="only this repository (owner/name or numeric id)")
    tail.add_argument("--count", type=int, help="stop after this many events")
    tail.add_argument("--since", help="start after this stream id instead of now (0: all)")
    tail.set_defaults(handler=_events_tail)

    webhooks = commands.add_parser("webhooks", help="work with GitHub webhook deliveries")
    webhooks_commands = webhooks.add_subparsers(dest="webhooks_command", required=True)
    send = webhooks_commands.add_parser(
        "send",
        help="sign a payload as GitHub does and deliver it to a running Hubbub",
        description="Read a payload file, sign its exact bytes with the first secret in "
        "GITHUB_WEBHOOK_SECRET (or --secret), and POST it as one delivery, for local "
        "development.",
    )
    send.add_argument("--event", required=True, help="the X-GitHub-Event, e.g. issues")
    send.add_argument("--file", required=True, type=Path, help="the JSON payload")
    send.add_argument("--url", default="http://127.0.0.1:8000/api/webhooks/github")
    send.add_argument("--secret", help="sign with this secret instead")
    send.set_defaults(handler=_webhooks_send)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.handler(args)
