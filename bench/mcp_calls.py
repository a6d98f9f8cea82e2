"""The MCP endpoint (/mcp on the persistent server): what a tool call costs over HTTP next
to the same read from the gateway, and what an open session-based session costs the
server in memory; prints two tables and their markdown. Not part of the tests.

    .venv/bin/python bench/mcp_calls.py                       # both parts, on a real redis-server
    .venv/bin/python bench/mcp_calls.py --store embedded      # the in-process store instead
    .venv/bin/python bench/mcp_calls.py --part latency --calls 300 --rounds 3
    .venv/bin/python bench/mcp_calls.py --part sessions --sessions 100,500

One server process (bench/mcp_server.py: the persistent app under uvicorn as `hubbub
serve` runs it, from its environment) is pinned to core 1. This driver, the only client,
is pinned to core 0 with redis-server and a fake GitHub (bench/mcp_server.py, a process
of its own: one user, octo/hello and its issue 1), which a warm cache seldom asks. The
callers' rate limit is off (one token makes thousands of calls a minute); everything else
is as configured by default (cache fresh for 60 s, the in-process tier for 1 s).

(1) Tool-call latency on a warm cache. One client at a time, calls made one after
    another, against the same server process:
    * direct: `GET /api/github/repos/octo/hello/issues/1` with `Authorization: Bearer` and
      `Accept: application/vnd.github+json` (the gateway's default Accept, which the tools
      send, so both read the same cache entry), over an httpx2 client;
    * MCP stateless: the SDK's `Client` (mode="auto": `server/discover`, the 2026-07-28
      protocol, no session) calling `issue_read` (owner, repo, issue_number, method
      "get") with the same token, over its streamable HTTP transport on httpx2;
    * MCP session: the same with mode="legacy" (initialize, the 2025-11-25 protocol,
      a session with its GET stream open).
    Each client is opened once, lists the tools, and makes --warm untimed calls (the
    cache is warm after the first); then --rounds rounds of --calls calls per client,
    interleaved. Latency is per call as the client sees it; p50, p99 and calls/s (calls /
    wall time) are the median of the rounds'. CPU per call (utime + stime from /proc) is
    the server's and this client process's over all the timed calls: a call's latency is
    mostly the two added up, as the client waits while the server works and vice versa.
    Also printed: the gateway's answers by outcome during the timed calls (its /metrics:
    all HIT when the cache is warm), the server's RSS, and what the Store gained.
(2) Sessions held. For each N in --sessions, a fresh server process; after a warm-up
    (a few sessions opened, used and closed), N session-based clients each open a
    session (initialize, then one `issue_read`), --opening at a time, and keep it open
    (with its GET stream, as the SDK's client does). Measured: the server's VmRSS from
    /proc/<pid>/status before the first and 1 s after the last, (after - before) / N per
    session; the server's session records in the Store (Redis only); the open time
    (initialize + call) p50/p99 and the server's CPU per open. Then the clients close
    their sessions (DELETE), --opening at a time, and N sessions are opened and closed
    once more: RSS once closed, open again and closed again tells memory the server
    keeps for reuse (flat) from memory it loses (growing).

Store: a throwaway redis-server (REDIS_URL, as in production) unless --store embedded.
With Redis the server's RSS holds no Store data; with the embedded store it does.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Not bench/mcp_calls.py: a script run from bench/ has bench/ first on sys.path, and a file of
# that name would stand in for the MCP SDK in every bench that imports the server.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import ssl  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
from collections.abc import AsyncIterator, Awaitable, Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import httpx2  # noqa: E402
import redis  # noqa: E402
from mcp import Client  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

from bench.mcp_server import NAME, NUMBER, OWNER, TOKEN  # noqa: E402
from bench.tools import start_redis, stop, wait_for_port  # noqa: E402
from tests.fakes.serving import free_port  # noqa: E402

SERVER_CORE, CLIENT_CORE = 1, 0
ISSUE_PATH = f"/api/github/repos/{OWNER}/{NAME}/issues/{NUMBER}"
TOOL_ARGUMENTS = {"owner": OWNER, "repo": NAME, "issue_number": NUMBER, "method": "get"}
HEADERS = {"Authorization": f"Bearer {TOKEN}", "Accept": "application/vnd.github+json"}
TIMEOUT = httpx2.Timeout(60, read=120)
# Every client is made with this one context: building one per client (httpx2's default)
# costs milliseconds apiece, which with 1000 clients would be the bench's longest step.
TLS = ssl.create_default_context()
ENVIRONMENT = {
    # One token makes thousands of calls a minute: no callers' budget.
    "HUBBUB_CALLER_LIMIT": "0",
    # Each new session is logged at INFO by the SDK: warnings only.
    "HUBBUB_LOG_LEVEL": "WARNING",
    "GITHUB_WEBHOOK_SECRET": "mcp-bench-secret-mcp-bench-secret",  # unused; start-up is quiet
}
SESSION_KEYS = "hubbub:mcp:session:*"
STREAM_KEYS = "hubbub:mcp:stream:*"
OUTCOME = re.compile(r'^hubbub_gateway_responses_total\{outcome="(\w+)",status="(\w+)"\} (\S+)$')


# --- /proc (as bench/fanout.py's, which imports the server) ------------------------------


def cpu_s(pid: int) -> float:
    """CPU time (user and system) the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return math.nan


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# --- processes ---------------------------------------------------------------------------


def _launch(core: int, *arguments: str, environ: dict[str, str] | None = None) -> subprocess.Popen:
    command = ["taskset", "-c", str(core), sys.executable, str(ROOT / "bench/mcp_server.py")]
    process = subprocess.Popen(
        [*command, *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(environ or {})},
    )
    wait_for_port(int(arguments[1]))
    return process


def start_github() -> tuple[subprocess.Popen, str]:
    port = free_port()
    return _launch(CLIENT_CORE, "github", str(port)), f"http://127.0.0.1:{port}"


def start_hubbub(github_url: str, redis_url: str | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environ = {**ENVIRONMENT, "GITHUB_API_URL": github_url}
    if redis_url:
        environ["REDIS_URL"] = redis_url
    return _launch(SERVER_CORE, "hubbub", str(port), environ=environ), f"http://127.0.0.1:{port}"


class Redis:
    """What the Store holds, read beside the server (None without a redis-server)."""

    def __init__(self, url: str | None) -> None:
        self.client = redis.Redis.from_url(url) if url else None

    def count(self, pattern: str) -> int | None:
        if self.client is None:
            return None
        return sum(1 for _ in self.client.scan_iter(match=pattern, count=1000))

    def used_mb(self) -> float | None:
        if self.client is None:
            return None
        return int(self.client.info("memory")["used_memory"]) / 2**20

    def version(self) -> str:
        return str(self.client.info("server")["redis_version"]) if self.client else ""


# --- clients -----------------------------------------------------------------------------


def http_client(**options: Any) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(
        headers=HEADERS, timeout=TIMEOUT, verify=TLS, trust_env=False, **options
    )


@contextlib.asynccontextmanager
async def mcp_client(url: str, mode: str) -> AsyncIterator[Client]:
    """As tests/mcp/conftest.py's: the SDK's `Client` over its streamable HTTP transport,
    on an httpx2 client of its own sending the bearer token; no response cache."""
    async with http_client() as http:
        transport = streamable_http_client(f"{url}/mcp", http_client=http)
        async with Client(transport, mode=mode, cache=None) as client:  # type: ignore[arg-type]
            yield client


async def call_tool(client: Client) -> None:
    result = await client.call_tool("issue_read", TOOL_ARGUMENTS)
    if result.is_error:
        raise SystemExit(f"issue_read failed: {result.content}")


def direct_call(http: httpx2.AsyncClient, url: str) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        response = await http.get(url + ISSUE_PATH)
        if response.status_code != 200:
            raise SystemExit(f"direct GET answered {response.status_code}: {response.text}")

    return call


def tool_call(client: Client) -> Callable[[], Awaitable[None]]:
    return lambda: call_tool(client)


# --- (1) latency -------------------------------------------------------------------------


@dataclass
class Series:
    """One client's timed calls, round by round. Latency and calls/s are the median of the
    rounds' (as bench/proxy.py's): a burst of noise in one round moves a pooled p99 a lot."""

    name: str
    rounds: list[list[float]] = field(default_factory=list)  # each call's ms, per round
    walls_s: list[float] = field(default_factory=list)  # per round
    server_cpu_s: float = 0.0
    client_cpu_s: float = 0.0

    @property
    def calls(self) -> int:
        return sum(len(latencies) for latencies in self.rounds)

    @property
    def p50(self) -> float:
        return statistics.median(percentile(latencies, 0.50) for latencies in self.rounds)

    @property
    def p99(self) -> float:
        return statistics.median(percentile(latencies, 0.99) for latencies in self.rounds)

    @property
    def rate(self) -> float:
        return statistics.median(
            len(latencies) / wall for latencies, wall in zip(self.rounds, self.walls_s, strict=True)
        )

    def server_cpu_ms(self) -> float:
        return self.server_cpu_s / self.calls * 1000

    def client_cpu_ms(self) -> float:
        return self.client_cpu_s / self.calls * 1000


async def timed(series: Series, call: Callable[[], Awaitable[None]], n: int, pid: int) -> None:
    latencies: list[float] = []
    server_before, client_before = cpu_s(pid), time.process_time()
    started = time.perf_counter()
    for _ in range(n):
        before = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - before) * 1000)
    series.walls_s.append(time.perf_counter() - started)
    series.server_cpu_s += cpu_s(pid) - server_before
    series.client_cpu_s += time.process_time() - client_before
    series.rounds.append(latencies)


def outcomes(url: str) -> dict[str, float]:
    """The gateway's answers so far by outcome (its /metrics)."""
    text = httpx2.get(url + "/metrics", trust_env=False).text
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if match := OUTCOME.match(line):
            key = f"{match.group(1)} {match.group(2)}"
            counts[key] = counts.get(key, 0.0) + float(match.group(3))
    return counts


async def bench_latency(
    url: str, pid: int, store: Redis, *, calls: int, rounds: int, warm: int
) -> list[Series]:
    direct = Series("direct GET (gateway)")
    stateless = Series("MCP issue_read, stateless (2026-07-28)")
    session = Series("MCP issue_read, session (2025-11-25)")
    async with (
        http_client() as http,
        mcp_client(url, "auto") as auto,
        mcp_client(url, "legacy") as legacy,
    ):
        for client, era in ((auto, "2026-07-28"), (legacy, "2025-11-25")):
            if client.protocol_version != era:
                raise SystemExit(f"expected protocol {era}, got {client.protocol_version}")
            await client.list_tools()
        targets = [
            (direct, direct_call(http, url)),
            (stateless, tool_call(auto)),
            (session, tool_call(legacy)),
        ]
        for _, call in targets:
            for _ in range(warm):
                await call()
        seen = outcomes(url)
        streams, used, rss = store.count(STREAM_KEYS), store.used_mb(), rss_mb(pid)
        for _ in range(rounds):
            for series, call in targets:
                await timed(series, call, calls, pid)
        answered = outcomes(url)
        streams_after, used_after, rss_after = (
            store.count(STREAM_KEYS),
            store.used_mb(),
            rss_mb(pid),
        )
    changed = {key: answered[key] - seen.get(key, 0.0) for key in answered}
    shown = ", ".join(f"{key}: {value:.0f}" for key, value in sorted(changed.items()) if value)
    print(f"gateway answers during the timed calls (its /metrics): {shown}")
    print(f"server RSS during the timed calls: {rss:.1f} -> {rss_after:.1f} MB")
    if streams is not None and streams_after is not None and used and used_after:
        print(
            f"Redis during the timed calls: {streams_after - streams:+d} mcp:stream keys,"
            f" {used_after - used:+.1f} MB used_memory ({session.calls} session-based calls)"
        )
    return [direct, stateless, session]


def show_latency(rows: list[Series], calls: int, rounds: int) -> list[str]:
    base = rows[0]
    print(
        f"\n(1) one client, calls one after another on a warm cache: {rounds} interleaved"
        f" rounds of {calls} calls per client; p50, p99 and calls/s: median of the rounds'"
    )
    print(
        f"{'':<40}{'p50 ms':>8}{'p99 ms':>8}{'calls/s':>9}{'p50 ×':>7}{'p99 ×':>7}"
        f"{'calls/s ×':>10}{'srv cpu':>9}{'cli cpu':>9}"
    )
    markdown = [
        "| one client, warm cache | p50 ms | p99 ms | calls/s | p50 × direct | p99 × direct"
        " | server CPU ms/call | client CPU ms/call |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ratios = (row.p50 / base.p50, row.p99 / base.p99, row.rate / base.rate)
        print(
            f"{row.name:<40}{row.p50:>8.2f}{row.p99:>8.2f}{row.rate:>9.0f}"
            f"{ratios[0]:>7.2f}{ratios[1]:>7.2f}{ratios[2]:>10.2f}"
            f"{row.server_cpu_ms():>9.2f}{row.client_cpu_ms():>9.2f}"
        )
        markdown.append(
            f"| {row.name} | {row.p50:.2f} | {row.p99:.2f} | {row.rate:.0f} | {ratios[0]:.2f}"
            f" | {ratios[1]:.2f} | {row.server_cpu_ms():.2f} | {row.client_cpu_ms():.2f} |"
        )
    print("srv/cli cpu: CPU ms per call of the server process and of this client process")
    return markdown


# --- (2) sessions --------------------------------------------------------------------------


@dataclass
class Cycle:
    """N sessions opened, held, and closed, by one client process."""

    rss_open_mb: float  # 1 s after the last one opened
    rss_closed_mb: float  # 1 s after the last one closed
    recorded: int | None  # the server's session records in the Store while they were open
    recorded_after: int | None  # and once they were closed
    opened_ms: list[float]  # initialize + one tool call, per session
    open_s: float  # until all were open
    server_cpu_s: float  # while they opened
    failures: int


@dataclass
class Held:
    sessions: int
    rss_before_mb: float
    first: Cycle
    second: Cycle  # the same again: memory the first left behind is reused, or it grows

    @property
    def per_session_kb(self) -> float:
        return (self.first.rss_open_mb - self.rss_before_mb) * 1024 / self.sessions


async def cycle(url: str, pid: int, store: Redis, n: int, opening: int) -> Cycle:
    """Open n sessions, `opening` at a time, hold them all, then close them (DELETE) as
    many at a time: closing a thousand at once keeps the server's loop busy past the
    Store's timeout, and the records of closed sessions are then left to expire."""
    gate = asyncio.Semaphore(opening)
    release = asyncio.Event()
    everyone = asyncio.Event()
    opened: list[float] = []
    failures: list[BaseException] = []  # sessions that did not open
    lost: list[BaseException] = []  # sessions that failed once open, or on closing

    def settled() -> None:
        if len(opened) + len(failures) == n:
            everyone.set()

    async def one() -> None:
        await gate.acquire()
        gated, counted = True, False
        try:
            started = time.perf_counter()
            async with mcp_client(url, "legacy") as client:
                await call_tool(client)
                opened.append((time.perf_counter() - started) * 1000)
                counted = True
                gate.release()
                gated = False
                settled()
                await release.wait()
                await gate.acquire()
                gated = True
        except Exception as error:
            (lost if counted else failures).append(error)
            if not counted:
                settled()
        finally:
            if gated:
                gate.release()

    cpu_before = cpu_s(pid)
    started = time.perf_counter()
    tasks = [asyncio.create_task(one()) for _ in range(n)]
    await everyone.wait()
    open_s = time.perf_counter() - started
    server_cpu = cpu_s(pid) - cpu_before
    await asyncio.sleep(1)
    rss_open = rss_mb(pid)
    recorded = store.count(SESSION_KEYS)
    release.set()
    await asyncio.gather(*tasks)
    await asyncio.sleep(1)
    for errors, what in ((failures, "failed to open"), (lost, "failed once open or closing")):
        if errors:
            error = errors[0]
            print(f"{len(errors)} of {n} sessions {what}, e.g. {type(error).__name__}: {error}")
    return Cycle(
        rss_open_mb=rss_open,
        rss_closed_mb=rss_mb(pid),
        recorded=recorded,
        recorded_after=store.count(SESSION_KEYS),
        opened_ms=opened,
        open_s=open_s,
        server_cpu_s=server_cpu,
        failures=len(failures) + len(lost),
    )


async def hold_sessions(url: str, pid: int, store: Redis, n: int, opening: int) -> Held:
    for _ in range(3):  # warm-up: the first session's imports and allocations
        async with mcp_client(url, "legacy") as client:
            await call_tool(client)
    await asyncio.sleep(1)
    rss_before = rss_mb(pid)
    first = await cycle(url, pid, store, n, opening)
    second = await cycle(url, pid, store, n, opening)
    return Held(sessions=n, rss_before_mb=rss_before, first=first, second=second)


def show_sessions(rows: list[Held], opening: int) -> list[str]:
    print(
        f"\n(2) session-based (2025-11-25) sessions held open by one server process, each"
        f" initialize + one issue_read, {opening} opening (and closing) at a time; RSS in MB"
    )
    print(
        f"{'sessions':>9}{'RSS before':>12}{'open':>8}{'KB/session':>12}{'in Store':>10}"
        f"{'open p50':>10}{'open p99':>10}{'open s':>8}{'srv cpu':>9}"
        f"{'closed':>8}{'again':>8}{'closed':>8}{'failed':>8}"
    )
    markdown = [
        "| sessions held | server RSS before (MB) | open (MB) | per session (KB)"
        " | open p50 ms | open p99 ms | server CPU ms per open | RSS closed, reopened,"
        " closed (MB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        first, second = row.first, row.second
        recorded = "-" if first.recorded is None else str(first.recorded)
        p50, p99 = percentile(first.opened_ms, 0.50), percentile(first.opened_ms, 0.99)
        cpu_ms = first.server_cpu_s / row.sessions * 1000
        print(
            f"{row.sessions:>9}{row.rss_before_mb:>12.1f}{first.rss_open_mb:>8.1f}"
            f"{row.per_session_kb:>12.1f}{recorded:>10}{p50:>10.1f}{p99:>10.1f}"
            f"{first.open_s:>8.1f}{cpu_ms:>9.2f}{first.rss_closed_mb:>8.1f}"
            f"{second.rss_open_mb:>8.1f}{second.rss_closed_mb:>8.1f}"
            f"{first.failures + second.failures:>8}"
        )
        markdown.append(
            f"| {row.sessions} | {row.rss_before_mb:.1f} | {first.rss_open_mb:.1f}"
            f" | {row.per_session_kb:.0f} | {p50:.1f} | {p99:.1f} | {cpu_ms:.2f}"
            f" | {first.rss_closed_mb:.1f}, {second.rss_open_mb:.1f},"
            f" {second.rss_closed_mb:.1f} |"
        )
    left = ", ".join(
        "-"
        if row.first.recorded_after is None
        else f"{row.first.recorded_after}/{row.second.recorded_after}"
        for row in rows
    )
    print(
        "KB/session: (open - before) / sessions; in Store: the server's records of the open"
        f" sessions (left once closed: {left}); open p50/p99: initialize + one call, ms;"
        " srv cpu: server CPU ms per session opened; closed, again, closed: RSS once all"
        " were closed, once as many were open again, and closed again"
    )
    return markdown


# --- the driver --------------------------------------------------------------------------


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["redis", "embedded"], default="redis")
    parser.add_argument("--calls", type=int, default=600, help="per client and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--warm", type=int, default=200, help="untimed calls per client")
    parser.add_argument("--sessions", type=_numbers, default=[200, 1000], help="N to hold")
    parser.add_argument("--opening", type=int, default=16, help="sessions opening at once")
    parser.add_argument("--part", choices=["latency", "sessions", "all"], default="all")
    args = parser.parse_args()
    os.sched_setaffinity(0, {CLIENT_CORE})
    command = " ".join([".venv/bin/python bench/mcp_calls.py", *sys.argv[1:]])
    redis_process, redis_url = start_redis() if args.store == "redis" else (None, None)
    store = Redis(redis_url)
    github, github_url = start_github()
    where = f"redis-server {store.version()}" if redis_url else "the embedded store"
    print(
        f"store: {where}; server (uvicorn, uvloop, httptools) on core {SERVER_CORE}; this"
        f" client, Redis and a fake GitHub on core {CLIENT_CORE}; callers' rate limit off"
    )
    markdown: list[str] = []
    try:
        if args.part in ("latency", "all"):
            hubbub, url = start_hubbub(github_url, redis_url)
            try:
                rows = asyncio.run(
                    bench_latency(
                        url,
                        hubbub.pid,
                        store,
                        calls=args.calls,
                        rounds=args.rounds,
                        warm=args.warm,
                    )
                )
            finally:
                stop(hubbub)
            markdown += show_latency(rows, args.calls, args.rounds)
        if args.part in ("sessions", "all"):
            held = []
            for n in args.sessions:
                hubbub, url = start_hubbub(github_url, redis_url)
                try:
                    held.append(asyncio.run(hold_sessions(url, hubbub.pid, store, n, args.opening)))
                finally:
                    stop(hubbub)
            if markdown:
                markdown.append("")
            markdown += show_sessions(held, args.opening)
    finally:
        stop(github, redis_process)
    print(f"\nmarkdown ({where}; 2 cores, server on one, client on the other):\n")
    print("```")
    print(command)
    print("```\n")
    print("\n".join(markdown))


if __name__ == "__main__":
    main()
