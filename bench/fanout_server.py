"""The Python processes `bench/fanout.py` starts (it pins each one with taskset):

    python bench/fanout_server.py hubbub PORT GITHUB_URL   # the persistent app + bench routes
    python bench/fanout_server.py github PORT              # a fake GitHub: one user, octo/hello

The Hubbub app is `realtime.app.create_app` on the embedded store (one process, so the
in-process FanoutManager), served by uvicorn as `hubbub serve` serves it: `ws="auto"`
(websockets-sansio), no per-message deflate, uvloop and httptools. `HUBBUB_DIRECT_WRITE`
(1 or 0) in the environment picks the broadcast path and the socket (lean or engine.io's
own). The bench routes below are mounted by this launcher only, never by the product,
behind Socket.IO's ASGI app and in front of the Starlette one: a websocket's call chain,
kept for its lifetime, stays the product's.

    GET /bench/count    members of the project room, background tasks, packets queued
    GET /bench/prep     gc.collect() + gc.freeze() now that the clients are connected
    GET /bench/start?n=50&interval_ms=200&pad=440
                        n x hub.sio.emit("msg", {seq, ts, pad}, room=<the project room>) on
                        an absolute schedule; ts is CLOCK_MONOTONIC in ms
    GET /bench/report   emit durations, timer lag, GC collections, direct/queued sends
    GET /bench/memory?by=filename&limit=40
                        the Python heap by file or line (run with PYTHONTRACEMALLOC=1;
                        diagnosis only)
    GET /bench/objects?owners=Type
                        live objects by type (before /bench/prep freezes them), what refers
                        to those of one type, coroutines by name (diagnosis only)
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import uvicorn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from realtime.app import create_app  # noqa: E402
from realtime.rooms import project_room  # noqa: E402
from shared.config import Settings  # noqa: E402

OWNER, NAME = "octo", "hello"
REPO_ID = 4242
TOKEN = "ghp_fanout" + "0" * 30  # the one GitHub user every bench client signs in as

# One user opens every socket from 127.0.0.1: no limit may refuse a connect or a join.
# The presence heartbeat (every HUBBUB_PRESENCE_TTL_S / 3) and its room snapshot (every
# 6th) are moved out of the measured window: they are not part of a broadcast.
ENVIRONMENT = {
    "HUBBUB_CONNECT_LIMIT": "0",
    "HUBBUB_CALLER_LIMIT": "0",
    "HUBBUB_SOCKETS_PER_USER_MAX": "1000000",
    "HUBBUB_SOCKET_JOINS_PER_MIN": "1000000",
    "HUBBUB_PRESENCE_TTL_S": "3600",
    "HUBBUB_LOG_LEVEL": "WARNING",
    "GITHUB_WEBHOOK_SECRET": "fanout-bench-secret",  # unused; set so start-up does not warn
}


def _have(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def uvicorn_options(port: int) -> dict[str, Any]:
    return {
        "host": "127.0.0.1",
        "port": port,
        "loop": "uvloop" if _have("uvloop") else "auto",
        "http": "httptools" if _have("httptools") else "auto",
        "ws": "auto",
        "ws_per_message_deflate": False,
        "ws_ping_interval": None,  # as `hubbub serve`: engine.io pings
        "access_log": False,
        "log_level": "warning",
    }


class GcWatch:
    """Cyclic GC collections (count and wall time per generation) while `on`."""

    def __init__(self) -> None:
        self.on = False
        self.counts = [0, 0, 0]
        self.ms = [0.0, 0.0, 0.0]
        self.longest_ms = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if not self.on:
            return
        if phase == "start":
            self._started = time.perf_counter()
            return
        took = (time.perf_counter() - self._started) * 1000
        generation = info["generation"]
        self.counts[generation] += 1
        self.ms[generation] += took
        self.longest_ms = max(self.longest_ms, took)


class BenchRoutes:
    """The bench-only HTTP routes, in front of the Starlette app (see the module
    docstring)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.hub = app.state.hub
        self.room = project_room(REPO_ID)
        self.gc = GcWatch()
        self.report: dict[str, Any] = {"done": False, "sent": 0}
        self.task: asyncio.Task[None] | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/bench/"):
            return await self.app(scope, receive, send)
        query = {k: v[0] for k, v in parse_qs(scope["query_string"].decode()).items()}
        handler = {
            "/bench/count": self.count,
            "/bench/prep": self.prep,
            "/bench/start": self.start,
            "/bench/report": self.get_report,
            "/bench/memory": self.memory,
            "/bench/objects": self.objects,
        }.get(scope["path"])
        if handler is None:
            status, body = 404, {"error": "no such bench route"}
        else:
            status, body = 200, handler(query)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    def count(self, query: dict[str, str]) -> dict[str, Any]:
        sio = self.hub.sio
        members = len(sio.manager.rooms.get("/", {}).get(self.room, ()))
        queued = sum(s.queue.qsize() for s in sio.eio.sockets.values())
        return {
            "members": members,
            "sockets": len(sio.eio.sockets),
            "background": len(self.hub._background),
            "queued": queued,
        }

    def prep(self, query: dict[str, str]) -> dict[str, Any]:
        gc.collect()
        gc.freeze()
        return {"frozen": gc.get_freeze_count()}

    def start(self, query: dict[str, str]) -> dict[str, Any]:
        if self.task is not None:
            return {"started": False}
        n = int(query.get("n", 50))
        interval_s = float(query.get("interval_ms", 200)) / 1000
        pad = "x" * int(query.get("pad", 440))
        self.task = asyncio.get_running_loop().create_task(self.broadcast(n, interval_s, pad))
        return {"started": True}

    async def broadcast(self, n: int, interval_s: float, pad: str) -> None:
        manager = self.hub.sio.manager
        report = self.report
        report.update(emit_ms=[], lag_ms=[], direct_enabled=manager.direct_enabled)
        direct, queued = manager.direct_sends, manager.queued_sends
        self.gc.on = True
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        for seq in range(n):
            due = t0 + seq * interval_s
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            report["lag_ms"].append((loop.time() - due) * 1000)
            payload = {"seq": seq, "ts": time.monotonic() * 1000, "pad": pad}
            before = time.perf_counter()
            await self.hub.sio.emit("msg", payload, room=self.room)
            report["emit_ms"].append((time.perf_counter() - before) * 1000)
            report["sent"] = seq + 1
            if seq == 0:
                report["frame_bytes"] = self.frame_bytes(payload)
        report["direct_sends"] = manager.direct_sends - direct
        report["queued_sends"] = manager.queued_sends - queued
        report["done"] = True

    def frame_bytes(self, payload: dict[str, Any]) -> int:
        """The websocket frame one recipient gets: engine.io "4" + the Socket.IO packet."""
        sio = self.hub.sio
        encoded = sio.packet_class(2, namespace="/", data=["msg", payload]).encode()
        text = len(("4" + encoded).encode())
        return text + (2 if text < 126 else 4 if text < 65_536 else 10)

    def memory(self, query: dict[str, str]) -> dict[str, Any]:
        """Where the Python heap is, by file (PYTHONTRACEMALLOC=1 in the environment)."""
        if not tracemalloc.is_tracing():
            return {"tracing": False}
        stats = tracemalloc.take_snapshot().statistics(query.get("by", "filename"))
        limit = int(query.get("limit", 40))
        top = [(str(stat.traceback), round(stat.size / 1024), stat.count) for stat in stats[:limit]]
        return {"tracing": True, "total_kb": round(sum(s.size for s in stats) / 1024), "top": top}

    def objects(self, query: dict[str, str]) -> dict[str, Any]:
        """Live objects the collector tracks (before /bench/prep freezes them), by type,
        the most numerous first; with ?owners=Type, the types of the objects that refer
        to objects of that type (a dict as its first keys)."""
        everything = gc.get_objects()
        counts: dict[str, int] = {}
        for item in everything:
            name = type(item).__qualname__
            counts[name] = counts.get(name, 0) + 1
        owners: dict[str, int] = {}
        wanted = query.get("owners")
        if wanted:
            targets = {id(item) for item in everything if type(item).__qualname__ == wanted}
            for item in everything:
                if any(id(referent) in targets for referent in gc.get_referents(item)):
                    name = type(item).__qualname__
                    if isinstance(item, dict):
                        name += ":" + ",".join(sorted(map(str, item))[:4])
                    owners[name] = owners.get(name, 0) + 1
        coroutines: dict[str, list[int]] = {}  # qualname: [count, bytes]
        for item in everything:
            if type(item).__name__ == "coroutine":
                entry = coroutines.setdefault(item.cr_code.co_qualname, [0, 0])
                entry[0] += 1
                entry[1] += sys.getsizeof(item)
        top = sorted(counts.items(), key=lambda kv: -kv[1])[: int(query.get("limit", 40))]
        return {
            "top": top,
            "owners": sorted(owners.items(), key=lambda kv: -kv[1])[:20],
            "coroutines": sorted(coroutines.items(), key=lambda kv: -kv[1][0])[:40],
        }

    def get_report(self, query: dict[str, str]) -> dict[str, Any]:
        self.gc.on = False
        return {
            **self.report,
            "gc_counts": self.gc.counts,
            "gc_ms": [round(ms, 2) for ms in self.gc.ms],
            "gc_longest_ms": round(self.gc.longest_ms, 2),
        }


def hubbub_app(github_url: str) -> Any:
    environ = {
        **ENVIRONMENT,
        "GITHUB_API_URL": github_url,
        "HUBBUB_DIRECT_WRITE": os.environ.get("HUBBUB_DIRECT_WRITE", "1"),
    }
    settings = Settings.from_env(environ, env_file=None)
    app = create_app(settings)
    app.other_asgi_app = BenchRoutes(app.other_asgi_app)
    return app


def fake_github(origin: str) -> Any:
    """Imported here: the Hubbub server runs on the image's packages (bench/.runtime),
    which the test fakes are not part of."""
    from tests.fakes.github import FakeGitHub

    github = FakeGitHub(public_origin=origin)
    github.add_user(TOKEN, "fanout")
    github.add_repo(OWNER, NAME, repo_id=REPO_ID)
    return github


def main() -> None:
    kind, port = sys.argv[1], int(sys.argv[2])
    options = uvicorn_options(port)
    if kind == "hubbub":
        uvicorn.run(hubbub_app(sys.argv[3]), lifespan="on", **options)
    elif kind == "github":
        uvicorn.run(fake_github(f"http://127.0.0.1:{port}").app, lifespan="off", **options)
    else:
        raise SystemExit(f"unknown kind {kind!r}: hubbub or github")


if __name__ == "__main__":
    main()
