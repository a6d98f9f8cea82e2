"""Vercel's entry point serves the proxy and the webhook receiver, and loads nothing of
the persistent layer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_entry_point_imports_only_what_the_serverless_routes_need() -> None:
    probe = (
        "import json, sys; import api.index; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={
            "UPSTASH_REDIS_REST_URL": "https://example.upstash.io",
            "UPSTASH_REDIS_REST_TOKEN": "token",
            # Sign-in configured too: its libraries still load only when first needed.
            "GITHUB_CLIENT_ID": "Iv1.x",
            "GITHUB_CLIENT_SECRET": "s",
            "HUBBUB_SESSION_KEYS": "k:" + "A" * 43,
            "HUBBUB_TOKEN_KEYS": "B" * 43 + "=",
            "PATH": "",
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    loaded = set(json.loads(done.stdout))
    assert {"starlette", "proxy", "webhooks"} <= loaded
    heavy_modules = ("realtime", "uvicorn", "fakeredis", "lupa", "socketio", "engineio", "mcp")
    for heavy in (*heavy_modules, "pycrdt", "redis", "authlib", "jwt", "cryptography"):
        assert heavy not in loaded, heavy


def test_vercel_routes_the_api_to_the_entry_point() -> None:
    config = json.loads((ROOT / "vercel.json").read_text())
    assert "api/index.py" in config["functions"]
    assert {"source": "/api/(.*)", "destination": "/api/index.py"} in config["rewrites"]


def test_the_entry_point_routes_webhooks_to_the_receiver() -> None:
    probe = (
        "import api.index\n"
        "from starlette.testclient import TestClient\n"
        "response = TestClient(api.index.app).post('/api/webhooks/github', content=b'{}')\n"
        "print(response.status_code, response.json()['error']['code'])"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env={"GITHUB_WEBHOOK_SECRET": "s3cret", "PATH": ""},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    # Unsigned, so refused before the (embedded) store is touched.
    assert done.stdout.split() == ["401", "invalid_signature"]


def test_vercel_installs_exactly_the_runtime_dependencies() -> None:
    """requirements.txt (what Vercel installs) and pyproject.toml's dependencies stay one list."""
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    listed = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert sorted(listed) == sorted(declared)
