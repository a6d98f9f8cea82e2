"""Webhook benchmarks; prints a table. Not part of the tests.

    .venv/bin/python bench/webhooks.py                 # both parts, embedded and native
    .venv/bin/python bench/webhooks.py --part accept   # (a) only;  --part latency: (b) only

(a) Accepting: deliveries per second one server process takes — signature verified,
    deduplicated, appended to the stream, invalidated — against a bare Starlette route
    that reads the same body and answers 202, measured in the same run, rounds
    interleaved. Every delivery has its own id (wrk sets it; the signature covers only the
    body), so none is answered as a duplicate. Server pinned to core 1, wrk to core 0.
(b) Latency: from sending a delivery over HTTP to its envelope arriving at a consumer
    reading the stream (XREAD BLOCK), one delivery at a time, p50 and p99.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.tools import start_redis, start_server, stop, wrk  # noqa: E402
from bench.webhook_server import SECRET  # noqa: E402

PAYLOAD = ROOT / "tests" / "fixtures" / "webhooks" / "issues" / "edited.json"

_WRK_SCRIPT = """
local file = io.open("{body}", "rb")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "issues"
wrk.headers["X-GitHub-Hook-ID"] = "1"
wrk.headers["X-Hub-Signature-256"] = "{signature}"
local n = 0
local run = "{run}"
request = function()
  n = n + 1
  wrk.headers["X-GitHub-Delivery"] = run .. "-" .. n
  return wrk.format()
end
"""


def _sign(body: bytes) -> str:
    from webhooks.signature import sign

    return sign(body, SECRET.encode())


def bench_accept(seconds: int, rounds: int, store: str) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("bench needs wrk: apt-get install wrk")
    from tests.fakes.serving import free_port

    body = PAYLOAD.read_bytes()
    port = free_port()
    environ: dict[str, str] = {}
    redis_process = None
    if store == "native":
        redis_process, environ["BENCH_REDIS_URL"] = start_redis()
    server = start_server("bench.webhook_server:create_app", port, environ)
    rows: dict[str, list[tuple[float, float, float]]] = {
        "bare route, same body": [],
        "receiver": [],
    }
    with tempfile.TemporaryDirectory() as scratch:
        body_file = Path(scratch) / "body.json"
        body_file.write_bytes(body)

        def script() -> Path:
            path = Path(scratch) / f"{uuid.uuid4().hex}.lua"
            path.write_text(
                _WRK_SCRIPT.format(body=body_file, signature=_sign(body), run=uuid.uuid4().hex)
            )
            return path

        try:
            base = f"http://127.0.0.1:{port}"
            receiver = base + "/api/webhooks/github"
            wrk(base + "/bare", 2, script=script())
            wrk(receiver, 2, script=script())
            for _ in range(rounds):
                rows["bare route, same body"].append(wrk(base + "/bare", seconds, script=script()))
                rows["receiver"].append(wrk(receiver, seconds, script=script()))
        finally:
            stop(server, redis_process)
    print(
        f"\n(a) accepting deliveries ({len(body)} B), {store} store: wrk -t1 -c32 "
        f"-d{seconds}s, median of {rounds} rounds"
    )
    print(f"{'route':<28}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
    medians = {}
    for name, runs in rows.items():
        medians[name] = [statistics.median(run[i] for run in runs) for i in range(3)]
        rate, p50, p99 = medians[name]
        print(f"{name:<28}{rate:>10.0f}{p50:>10.2f}{p99:>10.2f}")
    ratio = medians["receiver"][0] / medians["bare route, same body"][0]
    print(f"throughput ratio receiver/bare: {ratio:.2f}")


async def bench_latency(deliveries: int, store: str) -> None:
    import httpx

    from bench.webhook_server import create_app
    from shared.store import SubscribingStore
    from shared.store.keys import Keys
    from tests.fakes.serving import serve

    redis_process = None
    if store == "native":
        redis_process, url = start_redis()
        os.environ["BENCH_REDIS_URL"] = url
    else:
        os.environ.pop("BENCH_REDIS_URL", None)
    app = create_app()
    body = PAYLOAD.read_bytes()
    signature = _sign(body)
    arrived: dict[str, float] = {}
    landed = asyncio.Event()
    try:
        async with serve(app) as base, httpx.AsyncClient(base_url=base) as client:
            # The app's gateway holds the store: read the stream through the same one.
            holder = next(r for r in app.routes if getattr(r, "path", "") == "/api/webhooks/github")
            endpoints = holder.endpoint.__self__  # type: ignore[attr-defined]
            gateway = endpoints.gateway()
            stream_store = gateway.store
            assert isinstance(stream_store, SubscribingStore)
            keys = Keys(gateway.settings.key_prefix)

            async def consume() -> None:
                last = "$"
                while len(arrived) < deliveries:
                    replies = await stream_store.xread({keys.event_stream(): last}, block_ms=1000)
                    for _, entries in replies:
                        for entry_id, fields in entries:
                            last = entry_id
                            delivery = json.loads(fields["e"])["delivery"]
                            arrived[delivery] = time.perf_counter()
                            landed.set()

            consumer = asyncio.create_task(consume())
            await asyncio.sleep(0.1)  # the consumer is blocked on the stream
            sent: dict[str, float] = {}
            for n in range(deliveries):
                delivery = f"latency-{n}"
                headers = {
                    "content-type": "application/json",
                    "x-github-event": "issues",
                    "x-github-delivery": delivery,
                    "x-github-hook-id": "1",
                    "x-hub-signature-256": signature,
                }
                sent[delivery] = time.perf_counter()
                response = await client.post("/api/webhooks/github", content=body, headers=headers)
                assert response.status_code == 202, response.text
                while delivery not in arrived:
                    await landed.wait()
                    landed.clear()
            await asyncio.wait_for(consumer, 10)
    finally:
        stop(redis_process)
    latencies = sorted((arrived[d] - sent[d]) * 1000 for d in sent)
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    print(f"{store + ' store':<28}{deliveries:>10}{p50:>10.2f}{p99:>10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["accept", "latency", "all"], default="all")
    parser.add_argument("--seconds", type=int, default=8, help="wrk duration per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=1000, help="deliveries timed in (b)")
    args = parser.parse_args()
    if args.part in ("accept", "all"):
        for store in ("embedded", "native"):
            bench_accept(args.seconds, args.rounds, store)
    if args.part in ("latency", "all"):
        print("\n(b) delivery to consumer, one at a time, in one process")
        print(f"{'store':<28}{'count':>10}{'p50 ms':>10}{'p99 ms':>10}")
        for store in ("embedded", "native"):
            asyncio.run(bench_latency(args.deliveries, store))


if __name__ == "__main__":
    main()
