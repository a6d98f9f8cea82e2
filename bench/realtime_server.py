"""The processes `bench/realtime.py` starts (it pins each one with taskset):

    python bench/realtime_server.py hubbub PORT         # the persistent app, from its env
    python bench/realtime_server.py github PORT USERS   # a fake GitHub: USERS users, octo/hello

uvicorn serves the app as `hubbub serve` does, logging included: uvloop, httptools, and
WebSockets without per-message deflate (which `bench.tools.start_server` cannot ask for).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.config import Settings  # noqa: E402
from shared.logging import configure_logging, uvicorn_log_config  # noqa: E402
from tests.fakes.github import FakeGitHub  # noqa: E402

OWNER, NAME = "octo", "hello"
REPO_ID = 4242  # the payload of a bench webhook names the repository by this id


def token(n: int) -> str:
    """User n's GitHub token: each bench client is a user of its own."""
    return f"ghp_bench{n:031d}"


def fake_github(users: int, origin: str) -> FakeGitHub:
    github = FakeGitHub(public_origin=origin)
    for n in range(users):
        github.add_user(token(n), f"user{n}")
    github.add_repo(OWNER, NAME, repo_id=REPO_ID)
    return github


def serve(kind: str, port: int, github: Callable[[str], FakeGitHub]) -> None:
    """`hubbub` (the persistent app, from its environment) or a fake GitHub (`github`,
    built for its origin) on `port`, served by uvicorn as `hubbub serve` serves."""
    options: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": port,
        "loop": "uvloop",
        "http": "httptools",
        "ws_per_message_deflate": False,
        "ws_ping_interval": None,  # as `hubbub serve`: engine.io pings
        "access_log": False,
    }
    if kind == "hubbub":
        level = Settings.from_env().log_level
        configure_logging(level, "text")
        uvicorn.run(
            "realtime.app:create_app_from_env",
            factory=True,
            log_config=uvicorn_log_config(level, "text"),
            **options,
        )
    else:
        uvicorn.run(github(f"http://127.0.0.1:{port}").app, log_level="warning", **options)


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    users = int(sys.argv[3]) if kind == "github" else 0
    serve(kind, port, lambda origin: fake_github(users, origin))


if __name__ == "__main__":
    main()
