"""The processes `bench/mcp_calls.py` starts (it pins each one with taskset):

    python bench/mcp_server.py hubbub PORT    # the persistent app (MCP at /mcp), from its env
    python bench/mcp_server.py github PORT    # a fake GitHub: one user, octo/hello, issue 1

uvicorn serves the app as `hubbub serve` does, logging included (uvloop, httptools), as
bench/realtime_server.py does; the MCP endpoint is the one `realtime.app.create_app`
mounts at /mcp. GitHub is a process of its own so that the server's RSS is Hubbub's alone.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.realtime_server import serve  # noqa: E402
from tests.fakes.github import FakeGitHub  # noqa: E402

OWNER, NAME, NUMBER = "octo", "hello", 1
TOKEN = "ghp_mcpbench" + "0" * 28  # the one GitHub user every bench client is
LOGIN = "agent"
BODY = (
    "Steps to reproduce: open the dashboard, pick a project, open an issue and ask the "
    "agent to summarise it. Expected: a summary. Actual: the agent reads the issue again "
    "on every turn, and every read costs a GitHub rate-limit unit unless it is cached. "
) * 3


def fake_github(origin: str) -> FakeGitHub:
    github = FakeGitHub(public_origin=origin)
    github.add_user(TOKEN, LOGIN)
    github.add_repo(OWNER, NAME)
    github.add_issue(OWNER, NAME, title="MCP bench issue", body=BODY, number=NUMBER)
    return github


def main() -> None:
    serve(sys.argv[1], int(sys.argv[2]), fake_github)


if __name__ == "__main__":
    main()
