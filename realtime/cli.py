"""The `hubbub` command: `dev`, `serve` and `config`."""

from __future__ import annotations

import argparse
import sys

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

    settings = _settings()
    configure_logging(settings.log_level, "text")
    print(
        f"Hubbub dev on http://{args.host}:{args.port}  "
        f"(store: {settings.store_backend}; try /api/github/rate_limit)",
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
    )


def _serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = _settings()
    configure_logging(settings.log_level, settings.log_format)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=args.host,
        port=args.port,
        proxy_headers=True,
        forwarded_allow_ips=args.forwarded_allow_ips,
        access_log=False,
        log_config=uvicorn_log_config(settings.log_level, settings.log_format),
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=20,
    )


def _config(args: argparse.Namespace) -> None:
    for variable, value in _settings().masked().items():
        print(f"{variable}={value}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hubbub",
        description="A caching, rate-limiting GitHub gateway (and, as it grows, "
        "real-time rooms and an MCP server) on one Redis.",
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
        "no reload, no access log, proxy headers from trusted addresses.",
    )
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 - a server listens on all
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="addresses whose X-Forwarded-* headers are trusted (uvicorn's option)",
    )
    serve.set_defaults(handler=_serve)

    config = commands.add_parser(
        "config",
        help="print the effective settings, secrets masked",
        description="Print every setting as NAME=value, read from the environment and "
        ".env, with secrets masked.",
    )
    config.set_defaults(handler=_config)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.handler(args)
