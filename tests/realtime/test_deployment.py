"""The deployment files say what the persistent layer needs: sockets live on machines, a
drain fits in the kill timeout, and the image installs from the one dependency list."""

from __future__ import annotations

import tomllib
from pathlib import Path

from shared.config import Settings

ROOT = Path(__file__).resolve().parents[2]
# What `hubbub serve` gives uvicorn after the drain (realtime/cli.py).
GRACEFUL_S = 10


def test_fly_keeps_at_least_two_machines_running_and_counts_connections() -> None:
    fly = tomllib.loads((ROOT / "fly.toml").read_text())
    service = fly["http_service"]
    assert service["auto_stop_machines"] == "off"
    assert service["min_machines_running"] >= 2
    concurrency = service["concurrency"]
    assert concurrency["type"] == "connections"
    assert concurrency["soft_limit"] < concurrency["hard_limit"]
    assert [check["path"] for check in service["checks"]] == ["/healthz"]
    assert service["internal_port"] == 8080


def test_the_kill_timeout_covers_the_drain_and_the_graceful_shutdown() -> None:
    fly = tomllib.loads((ROOT / "fly.toml").read_text())
    assert fly["kill_signal"] == "SIGTERM"
    kill_timeout_s = int(fly["kill_timeout"].removesuffix("s"))
    environ = fly["env"]
    drain_s = float(environ.get("HUBBUB_DRAIN_S", Settings().drain_s))
    assert kill_timeout_s > drain_s + GRACEFUL_S
    secrets = {"REDIS_URL", "GITHUB_TOKEN", "GITHUB_WEBHOOK_SECRET", "HUBBUB_SESSION_KEYS"}
    assert not secrets & set(environ), "secrets belong in `fly secrets set`, not [env]"


def test_the_image_installs_from_pyproject_and_serves_on_the_internal_port() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "RUN pip install --no-cache-dir ." in dockerfile
    assert "requirements" not in dockerfile, "one dependency declaration, not two"
    assert '"serve", "--host", "0.0.0.0", "--port", "8080"' in dockerfile
