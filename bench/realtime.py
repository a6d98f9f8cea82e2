"""Live events end to end: from a webhook's POST to its arrival at every client in one
project room, with 100 to 1000 clients; prints a table. Not part of the tests.

    .venv/bin/python bench/realtime.py            # N = 100, 500, 1000 on 1, then 2 servers
    .venv/bin/python bench/realtime.py --sizes 1000 --servers 2 --events 20

N clients, each a GitHub user of its own, spread over --processes client processes,
connect (WebSocket only, --connecting at a time) and join octo/hello's room; a user's
first connect costs a token check and an access check at the fake GitHub. Once the room
is quiet (each join sends the whole room a presence delta), one untimed and then --events
signed `issues` webhooks are POSTed to the first server, --spacing-ms apart. Measured:

* connect: from a client's start to its `join_project` ack (it is then in the room), p50
  and p99 over clients, and the wall time until all N are in;
* delivery: from just before a webhook's POST to its `github_event` (matched by stream
  id) reaching a client, p50 and p99 over every (event, client) arrival, and the
  arrivals still missing 10 s after the last POST (must be 0);
* CPU per timed webhook (utime + stime from /proc), of the servers and of the client
  processes, over the deliveries: where the time goes.

The servers are the persistent app as `hubbub serve` runs it (bench/realtime_server.py),
on a throwaway Redis; with two, the clients alternate between them and each server's
relay delivers the stream to its own sockets. Limits per address are off (every client
comes from 127.0.0.1); everything else is as configured by default.

Connects are paced because all at once some are refused: with 500 clients connecting at
once the server's loop stays busy past the store timeout (1 s), and connects and joins
come back `store_unavailable`; a draining server spreads its clients' reconnects too.
The clients speak Socket.IO themselves (see Client): `socketio.AsyncClient` spends more
CPU per message than the server does.

On a 2-core machine the servers share core 1 (as bench/tools.start_server pins them);
the client processes share core 0 with Redis and the fake GitHub, at a lower priority
than those two (they stand for other machines). The goal there: delivery p99 < 100 ms
with 1000 clients in the room.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.realtime_server import NAME, OWNER, REPO_ID, token  # noqa: E402
from bench.tools import start_redis, stop, wait_for_port  # noqa: E402
from tests.fakes.serving import free_port  # noqa: E402
from webhooks.signature import sign  # noqa: E402

SECRET = "bench-secret-bench-secret-bench-secret"
REPO = f"{OWNER}/{NAME}"
TIMEOUT_S = 120  # for a connect or a join to be answered
QUIET_S = 1.0  # no presence delta for this long: every join has been announced
ARRIVAL_GRACE_S = 10  # after the last webhook, how long late arrivals are waited for
EVENT = '42["github_event"'
PRESENCE = '42["presence"'


@dataclass
class Row:
    servers: int
    clients: int
    connect_total_s: float
    connect_p50_ms: float
    connect_p99_ms: float
    delivery_p50_ms: float
    delivery_p99_ms: float
    missing: int
    server_cpu_ms: float  # per timed delivery, all server processes together
    client_cpu_ms: float  # per timed delivery, all client processes together


# --- processes --------------------------------------------------------------------------


def _launch(core: int, *arguments: str, environ: dict[str, str] | None = None) -> subprocess.Popen:
    command = ["taskset", "-c", str(core), sys.executable, str(ROOT / "bench/realtime_server.py")]
    process = subprocess.Popen(
        [*command, *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(environ or {})},
    )
    wait_for_port(int(arguments[1]))
    return process


def start_github(users: int) -> tuple[subprocess.Popen, str]:
    """The fake GitHub on core 0, beside the clients."""
    port = free_port()
    return _launch(0, "github", str(port), str(users)), f"http://127.0.0.1:{port}"


def start_hubbub(github_url: str, redis_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    environ = {
        "GITHUB_API_URL": github_url,
        "REDIS_URL": redis_url,
        "GITHUB_WEBHOOK_SECRET": SECRET,
        # Every client comes from 127.0.0.1: no limit per address, on connects or on the
        # callers' budget (a token's first check spends its address's).
        "HUBBUB_CONNECT_LIMIT": "0",
        "HUBBUB_CALLER_LIMIT": "0",
        # When a row's clients all leave at once, presence removals time out by the
        # hundred, each logged as a warning (the sweeper removes them): errors only.
        "HUBBUB_LOG_LEVEL": "ERROR",
    }
    return _launch(1, "hubbub", str(port), environ=environ), f"http://127.0.0.1:{port}"


# --- clients (one process's share) ------------------------------------------------------


class Share:
    """What one client process's clients heard, together."""

    def __init__(self, expected: int) -> None:
        self.expected = expected  # arrivals in all
        self.received = 0
        self.all_in = asyncio.Event()
        self.heard = asyncio.Event()  # a presence delta came

    def arrived(self) -> None:
        self.received += 1
        if self.received == self.expected:
            self.all_in.set()


class Client:
    """One Socket.IO connection, spoken directly over aiohttp's websocket: engine.io's open
    ("0{...}") and ping ("2", answered "3"), Socket.IO's connect ("40{auth}", answered
    "40{sid}" or refused "44{...}"), the acked `join_project` ("420[...]", answered
    "430[...]"), and events ("42[name, data]"); that is the whole protocol the bench needs.

    Not `socketio.AsyncClient`: it spends two tasks and a `wait_for` on every message, well
    over 100 us of CPU apiece on the 2-core machine. With all clients on one core that is
    more than the server spends per recipient: at 500 clients the delivery p99 measured
    the clients, and at 1000 the presence deltas of the joins (one to the whole room per
    join) starved them until most dropped their connections.
    """

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, share: Share) -> None:
        self.ws = ws
        self.share = share
        self.arrivals: list[tuple[str, float]] = []  # (stream id, time.time())
        self.replies: asyncio.Queue[str] = asyncio.Queue()
        self.reading = asyncio.create_task(self.read())

    async def read(self) -> None:
        async for message in self.ws:
            if message.type is not aiohttp.WSMsgType.TEXT:
                break
            text = message.data
            if text.startswith(EVENT):
                self.arrivals.append((json.loads(text[2:])[1]["id"], time.time()))
                self.share.arrived()
            elif text.startswith(PRESENCE):
                self.share.heard.set()
            elif text == "2":
                await self.ws.send_str("3")
            elif not text.startswith("42"):
                self.replies.put_nowait(text)
        self.replies.put_nowait("")  # closed: a reply awaited now will not come

    async def expect(self, prefix: str) -> str:
        text = await asyncio.wait_for(self.replies.get(), TIMEOUT_S)
        if not text:
            raise RuntimeError("the server closed the connection")
        if not text.startswith(prefix):
            raise RuntimeError(f"expected {prefix!r}, got {text[:200]!r}")
        return text

    async def join(self, user_token: str) -> None:
        await self.expect("0")
        await self.ws.send_str("40" + json.dumps({"token": user_token}))
        if not (answer := await self.expect("4")).startswith("40"):
            raise RuntimeError(f"connect refused: {answer[2:]}")
        await self.ws.send_str("420" + json.dumps(["join_project", {"repo": REPO}]))
        reply = json.loads((await self.expect("430"))[3:])[0]
        if not reply.get("ok"):
            raise RuntimeError(f"join refused: {reply}")

    async def close(self) -> None:
        await self.ws.close()
        await self.reading


def client_process(
    targets: list[tuple[str, str]],
    events: int,
    connecting: int,
    go: Any,
    finished: Any,
    pipe: Connection,
) -> None:
    """Connect one client per (server URL, token) when `go` is set, `connecting` at a
    time; report the connect times once the room is quiet; then collect `events` arrivals
    per client (or fewer, if `finished` is set first) and report them."""
    os.sched_setaffinity(0, {0})
    os.nice(10)  # Redis and the fake GitHub, on this core too, stand for other machines
    try:
        pipe.send(("waiting", None))
        go.wait()
        asyncio.run(_run_clients(targets, events, connecting, finished, pipe))
    except Exception as error:
        pipe.send(("failed", f"{type(error).__name__}: {error}"))


async def _run_clients(
    targets: list[tuple[str, str]],
    events: int,
    connecting: int,
    finished: Any,
    pipe: Connection,
) -> None:
    share = Share(len(targets) * events)
    gate = asyncio.Semaphore(connecting)
    clients: list[Client] = []
    connects: list[tuple[float, float]] = []  # (seconds taken, time.time() when in the room)

    async def connect(session: aiohttp.ClientSession, url: str, user_token: str) -> None:
        async with gate:
            started = time.time()
            ws = await session.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket")
            client = Client(ws, share)
            clients.append(client)
            await client.join(user_token)
            joined = time.time()
            connects.append((joined - started, joined))

    # One session per process, without aiohttp's default cap of 100 connections.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        try:
            results = await asyncio.gather(
                *(connect(session, *target) for target in targets), return_exceptions=True
            )
            failures = [str(result) for result in results if isinstance(result, BaseException)]
            if failures:
                raise RuntimeError(
                    f"{len(failures)} of {len(targets)} clients failed, e.g. {failures[0]}"
                )
            # Every join tells the room: deliveries are timed once those deltas stop.
            while True:
                share.heard.clear()
                try:
                    await asyncio.wait_for(share.heard.wait(), QUIET_S)
                except TimeoutError:
                    break
            pipe.send(("ready", connects))
            given_up = asyncio.create_task(asyncio.to_thread(finished.wait))
            everything = asyncio.create_task(share.all_in.wait())
            await asyncio.wait([given_up, everything], return_when=asyncio.FIRST_COMPLETED)
            pipe.send(("arrivals", [client.arrivals for client in clients]))
            await given_up  # the driver sets `finished` once it has every report
        finally:
            await asyncio.gather(*(client.close() for client in clients))


# --- the driver -------------------------------------------------------------------------


def issue_delivery(number: int) -> tuple[bytes, dict[str, str]]:
    payload = {
        "action": "edited",
        "issue": {
            "number": number,
            "title": f"Bench issue {number}",
            "state": "open",
            "labels": [],
            "html_url": f"https://github.com/{REPO}/issues/{number}",
        },
        "repository": {
            "id": REPO_ID,
            "name": NAME,
            "full_name": REPO,
            "owner": {"login": OWNER},
            "private": False,
        },
        "sender": {"login": "user0"},
    }
    body = json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        "x-github-event": "issues",
        "x-github-delivery": str(uuid.uuid4()),
        "x-github-hook-id": "1",
        "x-hub-signature-256": sign(body, SECRET.encode()),
    }
    return body, headers


def deliver(http: httpx.Client, number: int) -> tuple[str, float]:
    """POST issue `number`'s webhook: its stream id, and the time just before sending."""
    body, headers = issue_delivery(number)
    before = time.time()
    response = http.post("/api/webhooks/github", content=body, headers=headers)
    if response.status_code != 202:
        raise SystemExit(f"webhook answered {response.status_code}: {response.text}")
    return str(response.json()["id"]), before


def _receive(pipes: list[Connection], kind: str) -> list[Any]:
    answers = []
    for pipe in pipes:
        got, value = pipe.recv()
        if got != kind:
            raise SystemExit(f"a client process {got}: {value}")
        answers.append(value)
    return answers


def cpu_s(pids: list[int]) -> float:
    """CPU time (user and system) the processes have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def run_row(
    servers: int,
    n: int,
    *,
    events: int,
    processes: int,
    connecting: int,
    spacing_s: float,
    github_url: str,
) -> Row:
    redis, redis_url = start_redis()
    hubs = [start_hubbub(github_url, redis_url) for _ in range(servers)]
    urls = [url for _, url in hubs]
    context = multiprocessing.get_context("spawn")
    go, finished = context.Event(), context.Event()
    pipes, workers = [], []
    try:
        for p in range(processes):
            mine = [(urls[i % servers], token(i)) for i in range(p, n, processes)]
            parent, child = context.Pipe()
            in_flight = math.ceil(connecting / processes)
            # Each client gets the untimed warm-up delivery too.
            worker = context.Process(
                target=client_process, args=(mine, events + 1, in_flight, go, finished, child)
            )
            worker.start()
            pipes.append(parent)
            workers.append(worker)
        _receive(pipes, "waiting")
        start = time.time()
        go.set()
        connects = [c for share in _receive(pipes, "ready") for c in share]
        connect_total = max(joined for _, joined in connects) - start
        sent: dict[str, float] = {}
        server_pids = [process.pid for process, _ in hubs]
        client_pids = [worker.pid for worker in workers if worker.pid is not None]
        with httpx.Client(base_url=urls[0]) as http:
            deliver(http, 1)  # the warm-up
            cpu_before = cpu_s(server_pids), cpu_s(client_pids)
            for number in range(2, events + 2):
                time.sleep(spacing_s)
                stream_id, before = deliver(http, number)
                sent[stream_id] = before
        late = threading.Timer(ARRIVAL_GRACE_S, finished.set)
        late.start()
        reports = _receive(pipes, "arrivals")
        server_cpu = cpu_s(server_pids) - cpu_before[0]
        client_cpu = cpu_s(client_pids) - cpu_before[1]
        late.cancel()
        finished.set()
        latencies: list[float] = []
        missing = 0
        for share in reports:
            for arrivals in share:
                seen = {stream_id: at for stream_id, at in arrivals if stream_id in sent}
                missing += len(sent) - len(seen)
                latencies += [(at - sent[stream_id]) * 1000 for stream_id, at in seen.items()]
        for worker in workers:
            worker.join()
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.kill()
        stop(*(process for process, _ in hubs), redis)
    took = [seconds * 1000 for seconds, _ in connects]
    return Row(
        servers=servers,
        clients=n,
        connect_total_s=connect_total,
        connect_p50_ms=percentile(took, 0.50),
        connect_p99_ms=percentile(took, 0.99),
        delivery_p50_ms=percentile(latencies, 0.50) if latencies else math.nan,
        delivery_p99_ms=percentile(latencies, 0.99) if latencies else math.nan,
        missing=missing,
        server_cpu_ms=server_cpu / events * 1000,
        client_cpu_ms=client_cpu / events * 1000,
    )


HEADER = (
    f"{'servers':>7}{'clients':>9}{'connect s':>11}{'conn p50':>10}{'conn p99':>10}"
    f"{'deliv p50':>11}{'deliv p99':>11}{'missing':>9}{'srv cpu/ev':>12}{'cli cpu/ev':>12}"
)


def show(row: Row) -> None:
    print(
        f"{row.servers:>7}{row.clients:>9}{row.connect_total_s:>11.2f}"
        f"{row.connect_p50_ms:>10.0f}{row.connect_p99_ms:>10.0f}"
        f"{row.delivery_p50_ms:>11.1f}{row.delivery_p99_ms:>11.1f}{row.missing:>9}"
        f"{row.server_cpu_ms:>12.1f}{row.client_cpu_ms:>12.1f}",
        flush=True,
    )


def _numbers(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=_numbers, default=[100, 500, 1000], help="clients")
    parser.add_argument("--servers", type=_numbers, default=[1, 2], help="server processes")
    parser.add_argument("--events", type=int, default=20, help="timed webhooks per row")
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--connecting", type=int, default=32, help="connects in flight")
    parser.add_argument("--spacing-ms", type=int, default=200, help="between two webhooks")
    args = parser.parse_args()
    github, github_url = start_github(max(args.sizes))
    print("ms unless marked; connect: until the join_project ack; cpu/ev: CPU ms per webhook")
    print(HEADER, flush=True)
    try:
        for servers in args.servers:
            for n in args.sizes:
                row = run_row(
                    servers,
                    n,
                    events=args.events,
                    processes=args.processes,
                    connecting=args.connecting,
                    spacing_s=args.spacing_ms / 1000,
                    github_url=github_url,
                )
                show(row)
    finally:
        stop(github)


if __name__ == "__main__":
    main()
