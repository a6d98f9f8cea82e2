"""Gateway benchmarks; prints a table. Not part of the tests.

    .venv/bin/python bench/proxy.py             # every part
    .venv/bin/python bench/proxy.py --part hit  # (a) only; --part cold: (c); --part day: (b)

(a) Cache hits, one table: requests/s and p50/p99 latency of a bare Starlette route
    returning the issue's bytes (and the same with the hit's header lines), a fresh hit
    from the in-process tier (L1), written straight to uvicorn's transport, and the same
    hit handed to uvicorn's `send` (HUBBUB_DIRECT_WRITE=0), a fresh hit from the shared
    cache in a real redis-server (L2, L1 off), and nginx's proxy_cache in front of the
    same bytes when nginx is installed (the ceiling), rounds interleaved.
    Servers are pinned to core 1 and wrk (Debian's `wrk`) to core 0, as in the perf
    anchors. Goals: L1 ≥ 0.8 of the bare route's requests/s with p99 at most 1.5 times;
    L2 ≥ 0.28 with p99 at most 2.5 times.
(b) A dashboard day: 100 viewers poll 20 resources every second for a simulated span
    while 10 resources change on GitHub; counts upstream requests and the rate-limit
    units GitHub charged. Goal: units ≤ changed resources + distinct resources.
(c) Cold start: process start to the first answer of Vercel's entry point, beside a bare
    Starlette app importing only starlette, httpx and upstash-redis.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tools import start_redis, start_server, stop, wait_for_port, wrk  # noqa: E402

HIT_PATH = "/api/github/repos/octo/hello/issues/1"


def bench_hits(seconds: int, rounds: int, store: str) -> None:
    """One table: bare route, L1 hit, L2 hit (real Redis), nginx's cache when installed."""
    if shutil.which("wrk") is None:
        raise SystemExit("bench needs wrk: apt-get install wrk")
    from bench.hit_server import TOKEN
    from tests.fakes.serving import free_port

    auth = {"Authorization": f"token {TOKEN}"}
    processes: list[subprocess.Popen[bytes] | None] = []
    try:
        redis_process, redis_url = start_redis()
        processes.append(redis_process)
        l1_port, l2_port = free_port(), free_port()
        l1_environ = {"BENCH_L1_TTL": "1"}
        if store == "native":
            l1_environ["BENCH_REDIS_URL"] = redis_url
        processes.append(start_server("bench.hit_server:create_app", l1_port, l1_environ))
        l2_environ = {"BENCH_L1_TTL": "0", "BENCH_REDIS_URL": redis_url}
        processes.append(start_server("bench.hit_server:create_app", l2_port, l2_environ))
        # The same L1 hit handed to uvicorn's `send` (no direct answer), for the gain.
        send_port = free_port()
        send_environ = {**l1_environ, "BENCH_DIRECT_WRITE": "0"}
        processes.append(start_server("bench.hit_server:create_app", send_port, send_environ))
        targets = {
            "bare Starlette, same bytes": (f"http://127.0.0.1:{l1_port}/bare", {}),
            "  … with the hit's headers": (f"http://127.0.0.1:{l1_port}/bare-headers", {}),
            f"gateway L1 hit ({store})": (f"http://127.0.0.1:{l1_port}{HIT_PATH}", auth),
            "  … through uvicorn's send": (f"http://127.0.0.1:{send_port}{HIT_PATH}", auth),
            "gateway L2 hit (native, L1 off)": (f"http://127.0.0.1:{l2_port}{HIT_PATH}", auth),
        }
        if shutil.which("nginx") or Path("/usr/sbin/nginx").exists():
            nginx_port = free_port()
            processes.append(start_nginx(nginx_port, l1_port))
            targets["nginx proxy_cache (ceiling)"] = (f"http://127.0.0.1:{nginx_port}/hit", {})
        for url, headers in targets.values():
            wrk(url, 2, headers=headers)  # warm up
        runs: dict[str, list[tuple[float, float, float]]] = {name: [] for name in targets}
        for _ in range(rounds):
            for name, (url, headers) in targets.items():
                runs[name].append(wrk(url, seconds, headers=headers))
    finally:
        stop(*processes)
    print(f"\n(a) cache hits: wrk -t1 -c32 -d{seconds}s, median of {rounds} interleaved rounds")
    print(f"{'route':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'ratio':>8}{'p99 ×':>8}")
    medians = {
        name: [statistics.median(run[i] for run in results) for i in range(3)]
        for name, results in runs.items()
    }
    bare = medians["bare Starlette, same bytes"]
    for name, (rate, p50, p99) in medians.items():
        ratios = f"{rate / bare[0]:>8.2f}{p99 / bare[2]:>8.2f}"
        print(f"{name:<34}{rate:>9.0f}{p50:>9.2f}{p99:>9.2f}{ratios}")
    print("goals: L1 ratio ≥ 0.8 with p99 ≤ 1.5×; L2 ratio ≥ 0.28 with p99 ≤ 2.5×")


def start_nginx(port: int, upstream_port: int) -> subprocess.Popen[bytes]:
    """nginx with proxy_cache in front of the bare route (the same bytes), one worker on
    core 1: what a cache hit costs when no Python runs at all."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    home = Path(tempfile.mkdtemp(prefix="hubbub-nginx-"))
    (home / "nginx.conf").write_text(
        NGINX_CONF.format(
            home=home,
            port=port,
            upstream=upstream_port,
            # As root, workers would switch to `nobody` and lose the private temp directory.
            user="user root;" if os.geteuid() == 0 else "",
        ),
        encoding="utf-8",
    )
    process = subprocess.Popen(
        ["taskset", "-c", "1", nginx, "-p", str(home), "-c", str(home / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process


NGINX_CONF = """
daemon off;
{user}
worker_processes 1;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {home}/body;
    proxy_temp_path {home}/proxy;
    fastcgi_temp_path {home}/fastcgi;
    uwsgi_temp_path {home}/uwsgi;
    scgi_temp_path {home}/scgi;
    proxy_cache_path {home}/cache levels=1:2 keys_zone=hits:10m inactive=1h use_temp_path=off;
    server {{
        listen 127.0.0.1:{port};
        location = /hit {{
            proxy_pass http://127.0.0.1:{upstream}/bare;
            proxy_cache hits;
            proxy_cache_valid 200 1h;
            proxy_ignore_headers Cache-Control Expires Set-Cookie Vary;
            add_header X-Cache $upstream_cache_status;
        }}
    }}
}}
"""


def cold_start(rounds: int) -> None:
    """Process start to first answer: Vercel's entry point against a bare Starlette app
    that imports only starlette, httpx and upstash-redis."""
    from tests.fakes.serving import free_port

    environ = {
        "UPSTASH_REDIS_REST_URL": "https://example.upstash.io",
        "UPSTASH_REDIS_REST_TOKEN": "token",
    }
    apps = {
        "bare Starlette (+httpx, upstash-redis)": "bench.cold_bare:app",
        "api/index.py": "api.index:app",
    }
    times: dict[str, list[float]] = {name: [] for name in apps}
    for _ in range(rounds):
        for name, target in apps.items():
            port = free_port()
            started = time.perf_counter()
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    target,
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT), **environ},
            )
            try:
                first_answer(port)
                times[name].append((time.perf_counter() - started) * 1000)
            finally:
                stop(process)
    print(f"\n(c) cold start: process start to the first answer, median of {rounds}")
    bare = statistics.median(times[next(iter(apps))])
    for name, runs in times.items():
        value = statistics.median(runs)
        print(f"{name:<40}{value:>8.0f} ms{value / bare:>8.2f}×")


def first_answer(port: int) -> None:
    """Poll until the server answers anything (a 404 counts: the app is serving)."""
    import http.client

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/nowhere")
            connection.getresponse().read()
            return
        except OSError:
            time.sleep(0.005)  # polling a starting process: there is no event to wait for
    raise SystemExit("the server did not answer")


async def dashboard_day(viewers: int, resources: int, changing: int, seconds: int) -> None:
    import httpx
    from starlette.datastructures import Secret

    import proxy.clock
    from proxy import Gateway, GatewayRequest
    from shared.config import Settings
    from shared.identity import anonymous_identity
    from shared.store.embedded import EmbeddedStore
    from tests.fakes.github import FakeGitHub

    token = "ghp_dashboardDASHBOARDdashboardDASHBOARD1"
    github = FakeGitHub(public_origin="https://api.github.com")
    github.add_user(token, "dashboard")
    github.add_repo("octo", "hello")
    for number in range(1, resources + 1):
        github.add_issue("octo", "hello", title=f"Issue {number}", number=number)
    settings = Settings(
        github_api_url="https://api.github.com",
        github_token=Secret(token),
        anonymous_limit=0,
    )
    gateway = Gateway(settings, EmbeddedStore(), transport=httpx.ASGITransport(app=github.app))
    now = [1_800_000_000_000]
    proxy.clock.now_ms = lambda: now[0]  # a simulated day: the clock moves one second a tick
    rng = random.Random(7)
    changes = {
        rng.randrange(1, seconds): number
        for number in rng.sample(range(1, resources + 1), changing)
    }
    served = 0
    for tick in range(seconds):
        if tick in changes:
            github.add_issue("octo", "hello", title=f"Changed at {tick}", number=changes[tick])
        requests = [
            GatewayRequest(
                "GET",
                f"/repos/octo/hello/issues/{number}",
                "",
                anonymous_identity(f"10.0.0.{viewer}", settings.github_token),
            )
            for viewer in range(viewers)
            for number in range(1, resources + 1)
        ]
        answers = await asyncio.gather(*(gateway(request) for request in requests))
        assert all(answer.status == 200 for answer in answers)
        served += len(answers)
        now[0] += 1000
    await gateway.aclose()
    upstream = github.count("GET")
    not_modified = sum(1 for request in github.requests if request.status == 304)
    units = github.rate_limit(token)[2]
    print(
        f"\n(b) dashboard day: {viewers} viewers × {resources} resources every second for "
        f"{seconds} s (simulated clock), {changing} resources changed"
    )
    print(f"{'requests served':<36}{served:>10}")
    print(f"{'upstream requests':<36}{upstream:>10}")
    print(f"{'  of which 304 (free)':<36}{not_modified:>10}")
    print(f"{'rate-limit units spent':<36}{units:>10}")
    print(f"{'goal: ≤ changed + distinct':<36}{changing + resources:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["hit", "cold", "day", "all"], default="all")
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--store", choices=["embedded", "native"], default="native", help="L1 row's store"
    )
    parser.add_argument("--day-seconds", type=int, default=300, help="simulated span of (b)")
    args = parser.parse_args()
    if args.part in ("hit", "all"):
        bench_hits(args.seconds, args.rounds, args.store)
    if args.part in ("cold", "all"):
        cold_start(5)
    if args.part in ("day", "all"):
        asyncio.run(dashboard_day(100, 20, 10, args.day_seconds))


if __name__ == "__main__":
    main()
