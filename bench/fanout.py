"""Room fan-out against Node's socket.io 4.8, side by side in one run; prints a table.

    .venv/bin/python bench/fanout.py             # 1000 clients, 50 broadcasts, 3 rounds
    .venv/bin/python bench/fanout.py --clients 1000 --broadcasts 50 --rounds 5

N socket.io-client connections (`{transports: ['websocket'], forceNew: true,
reconnection: false}`), spread over --processes node processes pinned to core 0, are in
one room of a server pinned to core 1, all on 127.0.0.1. The server then emits 50
(--broadcasts) `msg` events {seq, ts, pad} of ~490 bytes on the wire to that room, on an
absolute 200 ms schedule (5/s). Each round runs three servers one after another:

* node: socket.io 4.8.4 (bench/node, installed with `npm ci` on the first run), every
  socket joined to the room on connection, `io.to(room).emit`;
* hubbub direct: the persistent app (`realtime.app.create_app`, embedded store) under
  uvicorn as `hubbub serve` runs it, HUBBUB_DIRECT_WRITE=1 (realtime/fanout.py writes the
  frame to each idle socket; each socket is a realtime/lean_socket.py LeanSocket), on
  bench/.runtime: a virtualenv made from requirements.txt on the first run, with the
  packages the Docker image installs and none of the test extras, some of which the
  server's libraries import when present (--python picks another interpreter);
  clients sign in with a fake GitHub's token and
  `join_project {repo: "octo/hello"}`; `hub.sio.emit("msg", ..., room=<project room>)`;
* hubbub queued: the same with HUBBUB_DIRECT_WRITE=0 (engine.io's own socket, every send
  through its queue).

Both Python servers freeze the GC once the clients are in (the app's lifespan already
froze it at start-up), as the probe's best configuration does; bench/fanout_server.py
holds the bench-only routes. Before the broadcasts, the room must hold N members and the
server and the clients must be idle (Hubbub's joins each tell the room).

Measured per server and round: server CPU (utime + stime from /proc) from just before the
first broadcast until every client has all of them, / broadcasts; latency (ts to arrival,
one CLOCK_MONOTONIC) p50 and p99 over every delivery, and the steady-state p99 (broadcasts
from --warmup on: before that the client core is still warming up); last-recipient
latency (the latest arrival of each broadcast, median over broadcasts); RSS with the
clients connected and its high-water mark; and whether every client got every broadcast,
in order. Ratios are to Node in the same round; the table shows medians over rounds.
"less idle" also shows CPU per broadcast less the server's own idle rate (measured for
IDLE_S just before, times the window): the Hubbub app spends CPU with nothing to send
(embedded-store polls, the 1 s socket watch, keepalive pings), Node next to none.
--profile DIR records the Hubbub servers with py-spy during the broadcasts (diagnosis only:
it skews that run); --json PATH keeps every round's figures; --servers "hubbub direct"
runs Node and that server only.

Goals (one core, Hubbub's fast path, ratio to Node): CPU per broadcast <= 1.0x,
steady-state p99 <= 1.3x, last-recipient latency <= 1.2x, RSS <= 1.1x.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import queue
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fanout_server import NAME, OWNER, TOKEN  # noqa: E402
from bench.tools import runtime_python, wait_for_port  # noqa: E402
from tests.fakes.serving import free_port  # noqa: E402

NODE_DIR = ROOT / "bench" / "node"
SERVER_CORE, CLIENT_CORE = "1", "0"
SERVERS = ("node", "hubbub direct", "hubbub queued")
PAD = 440  # characters of padding: a ~490-byte websocket frame
INTERVAL_MS = 200
CONNECT_DEADLINE_S = 300
QUIET_DEADLINE_S = 180
QUIET_CPU_S = 0.03  # per 0.5 s window, servers and clients each: "idle"
IDLE_S = 6.0  # the server's background CPU is measured this long before the broadcasts
GOALS = {"cpu": 1.0, "steady_p99": 1.3, "last": 1.2, "rss": 1.1}


@dataclass
class Result:
    server: str
    cpu_ms: float  # per broadcast
    window_s: float
    idle_ms_per_s: float  # server CPU while nothing is sent (IDLE_S before the broadcasts)
    client_cpu_ms: float  # per broadcast, all client processes together, same window
    p50: float
    p99: float
    steady_p99: float
    last: float  # median over broadcasts of the latest arrival
    first: float  # median over broadcasts of the earliest arrival
    rss_idle_mb: float
    rss_mb: float  # with the clients connected, before the broadcasts
    hwm_mb: float
    delivered: int
    expected: int
    in_order: int  # clients with every broadcast, in order, once
    clients: int
    faults: int
    report: dict[str, Any] = field(default_factory=dict)
    last_each: list[float] = field(default_factory=list)  # latest arrival, per broadcast

    @property
    def net_cpu_ms(self) -> float:
        """CPU per broadcast less what the server spends when nothing is sent (the embedded
        store's 50 ms polls, the 1 s socket watch, engine.io pings) over the same window."""
        return self.cpu_ms - self.idle_ms_per_s * self.window_s / self.broadcasts

    @property
    def broadcasts(self) -> int:
        return self.expected // max(1, self.clients)

    @property
    def complete(self) -> bool:
        """Every client got every broadcast, in order, exactly once."""
        return self.delivered == self.expected and self.in_order == self.clients and not self.faults


# --- processes ---------------------------------------------------------------------------


def npm_ci() -> None:
    if not (NODE_DIR / "node_modules" / "socket.io").is_dir():
        print("installing socket.io 4.8.4 (npm ci --prefix bench/node) ...", flush=True)
        subprocess.run(
            ["npm", "ci", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund"],
            check=True,
            stdout=subprocess.DEVNULL,
        )


def launch(core: str, command: list[str], environ: dict[str, str] | None = None, **kw: Any):
    return subprocess.Popen(
        ["taskset", "-c", core, *command],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(environ or {})},
        **kw,
    )


def stop(*processes: subprocess.Popen | None) -> None:
    """SIGTERM each (by its own pid), SIGKILL after 5 s."""
    for process in processes:
        if process is not None and process.poll() is None:
            process.terminate()
    for process in processes:
        if process is None:
            continue
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_github() -> tuple[subprocess.Popen, str]:
    """The fake GitHub on the clients' core: it only answers at connect and join time."""
    port = free_port()
    command = [sys.executable, str(ROOT / "bench/fanout_server.py"), "github", str(port)]
    process = launch(CLIENT_CORE, command)
    wait_for_port(port)
    return process, f"http://127.0.0.1:{port}"


def start_server(server: str, github_url: str, python: str) -> tuple[subprocess.Popen, str, str]:
    """(process, base URL, bench route prefix) of one server on core 1; a Hubbub server
    runs on `python` (bench/.runtime unless --python says otherwise)."""
    port = free_port()
    if server == "node":
        command = ["node", str(NODE_DIR / "fanout_server.mjs"), str(port)]
        process, prefix = launch(SERVER_CORE, command), ""
    else:
        direct = "1" if server == "hubbub direct" else "0"
        command = [python, str(ROOT / "bench/fanout_server.py"), "hubbub", str(port)]
        environ = {"HUBBUB_DIRECT_WRITE": direct}
        process, prefix = launch(SERVER_CORE, [*command, github_url], environ), "/bench"
    wait_for_port(port)
    return process, f"http://127.0.0.1:{port}", prefix


class Clients:
    """--processes node processes on core 0, each with its share of the N connections."""

    def __init__(self, server: str, url: str, n: int, processes: int, broadcasts: int) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="fanout-"))
        self.lines: queue.Queue[tuple[int, str]] = queue.Queue()
        self.processes: list[subprocess.Popen] = []
        self.outputs: list[Path] = []
        connecting = max(1, 100 // processes)
        for index in range(processes):
            share = n // processes + (1 if index < n % processes else 0)
            output = self.directory / f"clients-{index}.json"
            command = ["node", str(NODE_DIR / "fanout_clients.mjs"), "--url", url]
            command += ["--clients", str(share), "--broadcasts", str(broadcasts)]
            command += ["--out", str(output), "--connecting", str(connecting)]
            if server != "node":
                command += ["--mode", "hubbub", "--token", TOKEN, "--repo", f"{OWNER}/{NAME}"]
            process = launch(CLIENT_CORE, command, stdout=subprocess.PIPE, text=True)
            self.processes.append(process)
            self.outputs.append(output)
            threading.Thread(target=self._read, args=(index, process), daemon=True).start()

    def _read(self, index: int, process: subprocess.Popen) -> None:
        for line in process.stdout:
            self.lines.put((index, line.strip()))
        self.lines.put((index, "EXIT"))

    def wait_for(self, word: str, deadline_s: float) -> list[str] | None:
        """Each process's line starting with `word`, or None at the deadline."""
        got: dict[int, str] = {}
        end = time.monotonic() + deadline_s
        while len(got) < len(self.processes):
            try:
                index, line = self.lines.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                return None
            if line == "EXIT":
                raise SystemExit(f"client process {index} exited before {word}")
            if line.startswith(word):
                got[index] = line
        return [got[i] for i in range(len(self.processes))]

    @property
    def pids(self) -> list[int]:
        return [process.pid for process in self.processes]

    def dump_now(self) -> None:
        for process in self.processes:
            process.send_signal(signal.SIGUSR2)

    def results(self) -> list[dict[str, Any]]:
        return [json.loads(path.read_text()) for path in self.outputs]

    def close(self) -> None:
        stop(*self.processes)
        for path in self.outputs:
            path.unlink(missing_ok=True)
        self.directory.rmdir()


# --- /proc -------------------------------------------------------------------------------


def cpu_s(*pids: int) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int, field_name: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return math.nan


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


# --- one server, one round ---------------------------------------------------------------


def wait_until(check: Any, deadline_s: float, what: str) -> Any:
    end = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > end:
            raise SystemExit(f"gave up waiting for {what}")
        time.sleep(0.25)


def wait_quiet(pids: list[int], client_pids: list[int]) -> None:
    """Until the server and the client processes each use under QUIET_CPU_S per 0.5 s
    (a Hubbub join tells the room, so joins leave a wave of presence deltas behind)."""
    end = time.monotonic() + QUIET_DEADLINE_S
    while time.monotonic() < end:
        before = cpu_s(*pids), cpu_s(*client_pids)
        time.sleep(0.5)
        after = cpu_s(*pids), cpu_s(*client_pids)
        if after[0] - before[0] <= QUIET_CPU_S and after[1] - before[1] <= QUIET_CPU_S:
            return
    print("  (warning: never quiet before the broadcasts)", flush=True)


def profile(server: str, pid: int, args: argparse.Namespace, round_number: int) -> Any:
    """py-spy on the clients' core, sampling the server for the broadcasts' duration
    without stopping it (--nonblocking), or with native frames (--native, which stops it
    at each sample); that round's figures are skewed by it."""
    name = server.replace(" ", "-")
    output = Path(args.profile) / f"{name}-round{round_number}.txt"
    seconds = math.ceil(args.broadcasts * INTERVAL_MS / 1000) + 1
    command = [str(Path(sys.executable).parent / "py-spy"), "record"]
    command.append("--native" if args.native else "--nonblocking")
    command += ["-r", "250", "-d", str(seconds), "-f", "raw", "-p", str(pid), "-o", str(output)]
    return launch(CLIENT_CORE, command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_server(
    server: str, args: argparse.Namespace, github_url: str, rounds_done: int = 0
) -> Result:
    process, url, prefix = start_server(server, github_url, args.python)
    clients = None
    http = httpx.Client(base_url=url + prefix, timeout=30)
    try:
        pid = process.pid
        time.sleep(0.5)
        rss_idle = memory_mb(pid, "VmRSS")
        clients = Clients(server, url, args.clients, args.processes, args.broadcasts)
        ready = clients.wait_for("READY", CONNECT_DEADLINE_S)
        if ready is None:
            raise SystemExit(f"{server}: the clients did not connect in {CONNECT_DEADLINE_S} s")
        failed = sum(int(line.split()[2]) for line in ready)
        if failed:
            raise SystemExit(f"{server}: {failed} clients failed to connect or join")

        def settled() -> bool:
            count = http.get("/count").json()
            return (
                count["members"] == args.clients
                and not count.get("background", 0)
                and not (count.get("queued", 0))
            )

        wait_until(settled, QUIET_DEADLINE_S, f"{server} to count {args.clients} members")
        wait_quiet([pid], clients.pids)
        http.get("/prep").raise_for_status()
        time.sleep(1.0)
        rss = memory_mb(pid, "VmRSS")
        idle_before = cpu_s(pid)
        time.sleep(IDLE_S)
        idle_ms_per_s = (cpu_s(pid) - idle_before) / IDLE_S * 1000

        cpu_before, started = cpu_s(pid), time.monotonic()
        client_before = cpu_s(*clients.pids)
        http.get("/start", params={"n": args.broadcasts, "interval_ms": INTERVAL_MS, "pad": PAD})
        spy = profile(server, pid, args, rounds_done) if args.profile and prefix else None
        deadline = args.broadcasts * INTERVAL_MS / 1000 + 30
        done = clients.wait_for("DONE", deadline)
        cpu_after, window = cpu_s(pid), time.monotonic() - started
        client_cpu = cpu_s(*clients.pids) - client_before
        if spy is not None:
            spy.wait()
        if done is None:
            clients.dump_now()
            clients.wait_for("DONE", 30)
        report = http.get("/report").json()
        hwm = memory_mb(pid, "VmHWM")
        return summarize(
            server,
            clients.results(),
            args,
            report=report,
            cpu_ms=(cpu_after - cpu_before) / args.broadcasts * 1000,
            window_s=window,
            client_cpu_ms=client_cpu / args.broadcasts * 1000,
            idle_ms_per_s=idle_ms_per_s,
            rss_idle_mb=rss_idle,
            rss_mb=rss,
            hwm_mb=hwm,
        )
    finally:
        http.close()
        if clients is not None:
            clients.close()
        stop(process)


def summarize(
    server: str, shares: list[dict[str, Any]], args: argparse.Namespace, **measured: Any
) -> Result:
    per_broadcast: list[list[float]] = [[] for _ in range(args.broadcasts)]
    for share in shares:
        for seq, latencies in enumerate(share["latency"]):
            per_broadcast[seq] += latencies
    everything = [value for latencies in per_broadcast for value in latencies]
    steady = [value for latencies in per_broadcast[args.warmup :] for value in latencies]
    last = [max(latencies) for latencies in per_broadcast if latencies]
    first = [min(latencies) for latencies in per_broadcast if latencies]
    return Result(
        server=server,
        p50=percentile(everything, 0.50),
        p99=percentile(everything, 0.99),
        steady_p99=percentile(steady, 0.99),
        last=statistics.median(last) if last else math.nan,
        last_each=[round(value, 2) for value in last],
        first=statistics.median(first) if first else math.nan,
        delivered=sum(share["received"] for share in shares),
        expected=args.clients * args.broadcasts,
        in_order=sum(share["in_order"] for share in shares),
        clients=sum(share["clients"] for share in shares),
        faults=sum(share["faults"] for share in shares),
        **measured,
    )


# --- the table ---------------------------------------------------------------------------

METRICS = (  # (attribute, heading, format)
    ("cpu_ms", "CPU ms/bcast", "{:.1f}"),
    ("net_cpu_ms", "less idle", "{:.1f}"),
    ("p50", "p50 ms", "{:.1f}"),
    ("p99", "p99 ms", "{:.1f}"),
    ("steady_p99", "steady p99", "{:.1f}"),
    ("last", "last-recip ms", "{:.1f}"),
    ("rss_mb", "RSS MB", "{:.1f}"),
    ("hwm_mb", "HWM MB", "{:.1f}"),
)
GOAL_METRICS = {"cpu": "cpu_ms", "steady_p99": "steady_p99", "last": "last", "rss": "rss_mb"}
GOAL_METRICS["net_cpu"] = "net_cpu_ms"  # the same 1.0x goal, background CPU set aside
GOAL_NAMES = {
    "cpu": "CPU per broadcast",
    "net_cpu": "CPU per broadcast less idle",
    "steady_p99": "steady-state p99",
    "last": "last-recipient latency",
    "rss": "RSS with clients connected",
}


def ratios(rounds: list[dict[str, Result]], server: str, attribute: str) -> list[float]:
    return [getattr(r[server], attribute) / getattr(r["node"], attribute) for r in rounds]


def median_of(rounds: list[dict[str, Result]], server: str, attribute: str) -> float:
    return statistics.median(getattr(r[server], attribute) for r in rounds)


def print_table(rounds: list[dict[str, Result]], args: argparse.Namespace) -> None:
    frame = (
        rounds[0]["node"].report.get("frame_bytes"),
        rounds[0][args.servers[1]].report.get("frame_bytes"),
    )
    print()
    print(
        f"{args.clients} clients in one room, {args.broadcasts} broadcasts at 5/s, "
        f"frame {frame[0]} B (node) / {frame[1]} B (hubbub), {len(rounds)} rounds; "
        f"steady = broadcasts {args.warmup}..{args.broadcasts - 1}"
    )
    print("value = median over rounds; (x) = median of the per-round ratios to node;")
    print("less idle = CPU per broadcast less the server's idle CPU rate over the same window")
    width = 17
    print(f"{'server':<15}" + "".join(f"{heading:>{width}}" for _, heading, _ in METRICS))
    for server in args.servers:
        cells = []
        for attribute, _, form in METRICS:
            cell = form.format(median_of(rounds, server, attribute))
            if server != "node":
                cell += f" ({statistics.median(ratios(rounds, server, attribute)):.2f}x)"
            cells.append(f"{cell:>{width}}")
        print(f"{server:<15}" + "".join(cells))
    print()
    print("every client got every broadcast, in order, exactly once:")
    for server in args.servers:
        got = [r[server] for r in rounds]
        ok = all(x.complete for x in got)
        detail = ", ".join(
            f"{x.delivered}/{x.expected} delivered, {x.in_order}/{x.clients} in order" for x in got
        )
        print(f"  {server:<15}{'yes' if ok else 'NO'}   [{detail}]")
    print()
    print("per round:")
    for number, r in enumerate(rounds, start=1):
        for server in args.servers:
            x = r[server]
            rep = x.report
            extra = f"first {x.first:.1f}, clients' CPU {x.client_cpu_ms:.1f} ms/bcast"
            extra += f", idle {x.idle_ms_per_s:.1f} ms/s"
            extra += f", emit() median {_median(rep, 'emit_ms')} ms"
            extra += f", timer lag max {_max(rep, 'lag_ms')} ms"
            if server != "node":
                gc_counts = rep.get("gc_counts", [0, 0, 0])
                sends = f"{rep.get('direct_sends')}/{rep.get('queued_sends')}"
                extra += f", direct/queued sends {sends}"
                extra += f", GC collections {gc_counts} ({sum(rep.get('gc_ms', [0])):.0f} ms)"
            print(
                f"  {number} {server:<14} CPU {x.cpu_ms:5.1f} over {x.window_s:5.2f} s  "
                f"p50 {x.p50:5.1f}  p99 {x.p99:5.1f}  steady p99 {x.steady_p99:5.1f}  "
                f"last {x.last:5.1f}  RSS {x.rss_idle_mb:.0f}->{x.rss_mb:.0f} "
                f"(HWM {x.hwm_mb:.0f}) MB  {extra}"
            )
    print()
    print("goals (one core, ratio to node; medians of per-round ratios):")
    for server in args.servers[1:]:
        for goal in ("cpu", "net_cpu", "steady_p99", "last", "rss"):
            limit = GOALS.get(goal, GOALS["cpu"])
            values = ratios(rounds, server, GOAL_METRICS[goal])
            value = statistics.median(values)
            verdict = "pass" if value <= limit else "FAIL"
            each = "/".join(f"{v:.2f}" for v in values)
            print(
                f"  {server:<15}{GOAL_NAMES[goal]:<28} <= {limit:.1f}x: "
                f"{value:.2f}x [{each}]  {verdict}"
            )


def _median(report: dict[str, Any], key: str) -> str:
    values = report.get(key) or []
    return f"{statistics.median(values):.1f}" if values else "-"


def _max(report: dict[str, Any], key: str) -> str:
    values = report.get(key) or []
    return f"{max(values):.1f}" if values else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--broadcasts", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--warmup", type=int, default=15, help="broadcasts before steady state")
    parser.add_argument("--json", metavar="PATH", help="also write every round's figures here")
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy the Hubbub servers during the broadcasts into DIR (skews their CPU)",
    )
    parser.add_argument("--native", action="store_true", help="--profile with C frames")
    parser.add_argument(
        "--servers",
        default=",".join(SERVERS[1:]),
        help="the Hubbub servers to run beside node (comma-separated)",
    )
    parser.add_argument(
        "--python",
        help="the Hubbub servers' Python (default: bench/.runtime, the image's packages only)",
    )
    args = parser.parse_args()
    args.servers = ("node", *(name.strip() for name in args.servers.split(",")))
    unknown = set(args.servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {', '.join(sorted(unknown))}; known: {SERVERS[1:]}")
    args.python = args.python or runtime_python()
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    args.warmup = min(args.warmup, args.broadcasts - 1)
    npm_ci()
    github, github_url = start_github()
    rounds: list[dict[str, Result]] = []
    try:
        for number in range(1, args.rounds + 1):
            results = {}
            for server in args.servers:
                print(f"round {number}/{args.rounds}: {server} ...", flush=True)
                results[server] = run_server(server, args, github_url, number)
            rounds.append(results)
    finally:
        stop(github)
    print_table(rounds, args)
    if args.json:
        rows = [{name: dataclasses.asdict(x) for name, x in r.items()} for r in rounds]
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
