"""Gateway benchmarks; prints a table. Not part of the tests.

    .venv/bin/python bench/proxy.py            # both parts
    .venv/bin/python bench/proxy.py --part hit # (a) only;  --part day: (b) only
    .venv/bin/python bench/proxy.py --part hit --store native [--no-l1]

(a) Cache hits: requests/s and p50/p99 latency of a fresh hit through the whole gateway
    (from the in-process tier, or with --no-l1 from the shared cache) against a bare
    Starlette route returning the same bytes from the same server process, measured in
    the same run, rounds interleaved. The server is pinned to core 1 and wrk (Debian's
    `wrk`) to core 0, as in the perf anchors. Goals: L1 ≥ 0.8 of the bare route's
    requests/s with p99 at most 1.5 times; L2 ≥ 0.28 with p99 at most 2.5 times.
(b) A dashboard day: 100 viewers poll 20 resources every second for a simulated span
    while 10 resources change on GitHub; counts upstream requests and the rate-limit
    units GitHub charged. Goal: units ≤ changed resources + distinct resources.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tools import start_redis, start_server, stop, wrk  # noqa: E402

HIT_PATH = "/api/github/repos/octo/hello/issues/1"


def bench_hits(seconds: int, rounds: int, store: str, *, l1: bool = True) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("bench needs wrk: apt-get install wrk")
    from bench.hit_server import TOKEN
    from tests.fakes.serving import free_port

    port = free_port()
    environ = {"BENCH_L1_TTL": "1" if l1 else "0"}
    redis_process = None
    server = None
    try:
        if store == "native":
            redis_process, environ["BENCH_REDIS_URL"] = start_redis()
        server = start_server("bench.hit_server:create_app", port, environ)
        base = f"http://127.0.0.1:{port}"
        auth = {"Authorization": f"token {TOKEN}"}
        wrk(base + "/bare", 2)
        wrk(base + HIT_PATH, 2, headers=auth)
        bare: list[tuple[float, float, float]] = []
        gateway: list[tuple[float, float, float]] = []
        for _ in range(rounds):
            bare.append(wrk(base + "/bare", seconds))
            gateway.append(wrk(base + HIT_PATH, seconds, headers=auth))
    finally:
        stop(server, redis_process)
    tier = "L1 (in process)" if l1 else "L2 (shared, L1 off)"
    print(
        f"\n(a) cache hits from {tier}, {store} store: wrk -t1 -c32 -d{seconds}s, "
        f"median of {rounds} rounds"
    )
    print(f"{'route':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    rows = {"bare Starlette, same bytes": bare, "gateway fresh hit": gateway}
    medians = {}
    for name, runs in rows.items():
        medians[name] = [statistics.median(run[i] for run in runs) for i in range(3)]
        rate, p50, p99 = medians[name]
        print(f"{name:<28}{rate:>10.0f}{p50:>10.2f}{p99:>10.2f}")
    ratio = medians["gateway fresh hit"][0] / medians["bare Starlette, same bytes"][0]
    p99_ratio = medians["gateway fresh hit"][2] / medians["bare Starlette, same bytes"][2]
    goal = "≥ 0.8, p99 ≤ 1.5×" if l1 else "≥ 0.28, p99 ≤ 2.5×"
    print(f"ratios gateway/bare: throughput {ratio:.2f}, p99 {p99_ratio:.2f}×  (goal {goal})")


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
    parser.add_argument("--part", choices=["hit", "day", "all"], default="all")
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", choices=["embedded", "native"], default="embedded")
    parser.add_argument("--no-l1", dest="l1", action="store_false", help="hits from L2 only")
    parser.add_argument("--day-seconds", type=int, default=300, help="simulated span of (b)")
    args = parser.parse_args()
    if args.part in ("hit", "all"):
        bench_hits(args.seconds, args.rounds, args.store, l1=args.l1)
    if args.part in ("day", "all"):
        asyncio.run(dashboard_day(100, 20, 10, args.day_seconds))


if __name__ == "__main__":
    main()
