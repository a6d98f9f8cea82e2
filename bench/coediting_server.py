"""The server process `bench/coediting.py` starts (it pins it with taskset):

    python bench/coediting_server.py PORT EDITORS READERS [REDIS_URL]

The persistent app (`realtime.app.create_app`) served by uvicorn as `hubbub serve` serves
it (bench/fanout_server.py's options: uvloop, httptools, websockets-sansio without
per-message deflate), on the embedded store unless REDIS_URL is given. GitHub is a fake
in this same process (as the tests run it): octo/hello with issue 1, EDITORS users who
may push to it (the editors) and READERS who may only read it. GitHub is only asked at
connect, join and open time, and for the write-access check every 10 s per socket.

Limits are raised where one bench machine would trip them and a fleet of browsers would
not: connects per address (every client is 127.0.0.1), the edit rate per socket (the
bench types faster than a person), and the packets a socket may have waiting (a client
process that falls behind must show up as latency, not end the run by being dropped).
The presence heartbeat is moved out of the measured window, as in bench/fanout_server.py.
bench/fanout_server.py's bench routes sit in front of the app (`/bench/count` is used).
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fanout_server import ENVIRONMENT, REPO_ID, BenchRoutes, uvicorn_options  # noqa: E402
from proxy import Gateway  # noqa: E402
from realtime.app import create_app  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.store import connect  # noqa: E402
from tests.fakes.github import FakeGitHub  # noqa: E402

OWNER, NAME = "octo", "hello"
REPO = f"{OWNER}/{NAME}"
NUMBER = 1
API = "https://api.github.com"
SEED_BODY = (
    "Steps to reproduce: open the dashboard, pick a project, open an issue and start "
    "typing in its body while someone else does too. Expected: both see every character. "
)
LIMITS = {
    "HUBBUB_SOCKET_EDITS_PER_S": "100000",
    "HUBBUB_SOCKET_QUEUE_MAX": "1000000",
}


def editor_token(n: int) -> str:
    return f"ghp_edit{n:032d}"


def reader_token(n: int) -> str:
    return f"ghp_read{n:032d}"


def fake_github(editors: int, readers: int) -> FakeGitHub:
    github = FakeGitHub(public_origin=API)
    for n in range(editors):
        github.add_user(editor_token(n), f"ed{n}")
    for n in range(readers):
        github.add_user(reader_token(n), f"reader{n}")
    github.add_repo(OWNER, NAME, repo_id=REPO_ID, writers=[f"ed{n}" for n in range(editors)])
    github.add_issue(OWNER, NAME, title="Co-editing bench", body=SEED_BODY, number=NUMBER)
    return github


def hubbub_app(editors: int, readers: int, redis_url: str | None) -> BenchRoutes:
    environ = {**ENVIRONMENT, **LIMITS, "GITHUB_API_URL": API}
    if redis_url:
        environ["REDIS_URL"] = redis_url
    settings = Settings.from_env(environ, env_file=None)
    github = fake_github(editors, readers)
    gateway = Gateway(settings, connect(settings), transport=github.transport())
    return BenchRoutes(create_app(settings, gateway=gateway))


def main() -> None:
    port, editors, readers = (int(value) for value in sys.argv[1:4])
    redis_url = sys.argv[4] if len(sys.argv) > 4 else None
    app = hubbub_app(editors, readers, redis_url)
    uvicorn.run(app, lifespan="on", **uvicorn_options(port))


if __name__ == "__main__":
    main()
