"""Co-editing one issue draft: how many edits a second one server process merges and fans
out with 10 Yjs editors and 50 viewers on the issue, and how long an edit takes to reach
every viewer; prints a table. Not part of the tests.

    .venv/bin/python bench/coediting.py                      # 50..400 edits/s, then max
    .venv/bin/python bench/coediting.py --rates 100,max --seconds 10
    .venv/bin/python bench/coediting.py --quick              # a short smoke run

One server process (bench/coediting_server.py: the persistent app under uvicorn, the
embedded store unless --redis-url, a fake GitHub in process) is pinned to core 0; the
clients, in --viewer-processes + 1 processes, and this driver are pinned to core 1. Each
client is a GitHub user of its own: editors may push to octo/hello, viewers only read.
Every client connects (WebSocket only), joins octo/hello and opens issue 1 as a Yjs
client (`yjs: true`), so all of them are in the issue's Yjs room and hear `draft:sync`.

Editors keep a pycrdt document in step with what they hear and type 1-3 letters at a
random place of their body. In a rate phase the editors together send `draft:sync`
updates at a fixed rate on an absolute schedule, without waiting for acks (a browser's
provider does not), up to --in-flight unacked per editor: past what the server can
take, an unbounded backlog delays the pongs it reads until engine.io's ping timeout
drops the sockets, where a bounded one shows as sent/s below the rate. A `max` phase
keeps --window updates in flight per editor, so the server sets the pace. Between
phases the driver waits until every viewer has heard as many updates as the server
fanned out (its draft update counter on /metrics).

How an edit is followed: an update's items are identified by (Yjs client id, clock), so
the editor notes the first clock of each update it sends (with the time it sent it, and
the time and version of its ack), and each viewer just records when each `draft:sync` frame
arrived, decoding it only after the run (realtime/drafts/updates.py). The server may
merge updates before it sends them on, so an edit is matched to the arrival whose range
holds its first clock. All timestamps are CLOCK_MONOTONIC, which every process shares.
Measured per phase:

* sent/s, and delivered/s: edits / (first send to the last arrival at the last viewer);
* send->ack p50/p99: an edit's round trip at its editor (logged in the Store);
* send->viewer and ack->viewer p50/p99 over every (edit, viewer) arrival; ack->viewer is
  mostly negative, because the server sends an update on before it logs and acks it;
* send->all p50/p99: per edit, until the last viewer has it;
* missing (edit, viewer) arrivals (must be 0); under the row, if any, the edits the
  server held for a missing dependency and the sync step 1s it sent editors (which they
  answer with step 2, as a browser's y-protocols does);
* CPU (utime + stime from /proc) over the phase, until the last viewer has everything:
  the server's per edit and as a share of its core, and the client processes' share of
  theirs. A client core near 100% means the clients, not the server, set the figures.

At the end every viewer's document (the open's step 2 and all it heard, merged), every
editor's, and the server's (a fresh client opening the issue) must hold the same body.

The clients speak Socket.IO themselves over aiohttp, as bench/realtime.py's do (see
Socket): `socketio.AsyncClient` spends two tasks per message, and 60 of them on one core
would measure themselves. --json PATH keeps every edit's times. --profile FILE records
the server with py-spy during the `max` phase, or else the highest rate (py-spy runs on
the client core: that phase's figures are skewed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import random
import re
import string
import subprocess
import sys
import time
import traceback
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from pycrdt import Doc, Text, YSyncMessageType, merge_updates
from socketio import packet as sio_packet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.coediting_server import NUMBER, REPO, editor_token, reader_token  # noqa: E402
from bench.fanout import cpu_s, percentile, stop  # noqa: E402
from bench.tools import wait_for_port  # noqa: E402
from realtime.drafts import protocol  # noqa: E402
from realtime.drafts.updates import needs  # noqa: E402
from tests.fakes.serving import free_port  # noqa: E402

SERVER_CORE, CLIENT_CORE = 0, 1
TIMEOUT_S = 60  # for a connect, a join or an open to be answered
DRAIN_S = 60  # after a phase's last ack, for every viewer to have every update
SYNC_EVENT = '451-["draft:sync"'  # the head of a `draft:sync` event; its bytes follow
UPDATES_METRIC = re.compile(r'^hubbub_realtime_draft_updates_total\{source="yjs"\} (\S+)$', re.M)
DEFAULT_RATES = "50,100,200,400,max"


# --- a Socket.IO client -----------------------------------------------------------------


class Socket:
    """One Socket.IO connection spoken directly over aiohttp's websocket: engine.io's open
    and pings, Socket.IO's connect, acked events out (binary attachments as separate
    frames), acks in. A `draft:sync` event is recognised by its head and its attachment
    handed to `on_update` with its arrival time, parsing nothing; other packets go
    through python-socketio's own packet decoder, and other events are dropped."""

    def __init__(
        self,
        ws: aiohttp.ClientWebSocketResponse,
        on_update: Callable[[bytes, float], None] | None = None,
    ) -> None:
        self.ws = ws
        self.on_update = on_update
        self.acks: dict[int, Callable[[Any, float], None]] = {}
        self.next_id = 0
        self.replies: asyncio.Queue[Any] = asyncio.Queue()
        self.sending = asyncio.Lock()  # an event and its attachments go out together
        self._partial: sio_packet.Packet | None = None
        self._sync_next = False
        self.reading = asyncio.create_task(self._read())

    @classmethod
    async def open(
        cls,
        session: aiohttp.ClientSession,
        url: str,
        token: str,
        on_update: Callable[[bytes, float], None] | None = None,
    ) -> Socket:
        ws = await session.ws_connect(
            f"{url}/socket.io/?EIO=4&transport=websocket", max_msg_size=0, autoping=True
        )
        socket = cls(ws, on_update)
        opened = await socket._reply()
        if not (isinstance(opened, str) and opened.startswith("0")):
            raise RuntimeError(f"expected engine.io's open, got {opened!r}")
        await ws.send_str("40" + json.dumps({"token": token}))
        answer = await socket._reply()
        if not isinstance(answer, sio_packet.Packet) or answer.packet_type != sio_packet.CONNECT:
            raise RuntimeError(f"connect refused: {getattr(answer, 'data', answer)}")
        return socket

    async def _reply(self) -> Any:
        reply = await asyncio.wait_for(self.replies.get(), TIMEOUT_S)
        if reply is None:
            raise RuntimeError("the server closed the connection")
        return reply

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                if message.type is aiohttp.WSMsgType.BINARY:
                    if self._sync_next:
                        self._sync_next = False
                        if self.on_update is not None:
                            self._hand_over(message.data)
                    elif self._partial is not None and self._partial.add_attachment(message.data):
                        packet, self._partial = self._partial, None
                        self._dispatch(packet)
                    continue
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
                text = message.data
                if text.startswith(SYNC_EVENT):
                    self._sync_next = True
                elif text == "2":
                    await self.ws.send_str("3")
                elif text.startswith("4"):
                    packet = sio_packet.Packet(encoded_packet=text[1:])
                    if packet.attachment_count:
                        self._partial = packet
                    else:
                        self._dispatch(packet)
                else:
                    self.replies.put_nowait(text)
        finally:
            self.replies.put_nowait(None)

    def _hand_over(self, message: bytes) -> None:
        try:
            self.on_update(message, time.monotonic())
        except Exception:  # shown, and the socket reads on: the bodies will differ
            traceback.print_exc()

    def _dispatch(self, packet: sio_packet.Packet) -> None:
        kind = packet.packet_type
        if kind in (sio_packet.ACK, sio_packet.BINARY_ACK):
            callback = self.acks.pop(packet.id, None)
            if callback is not None:
                callback(packet.data[0] if packet.data else None, time.monotonic())
        elif kind not in (sio_packet.EVENT, sio_packet.BINARY_EVENT):  # presence: not needed
            self.replies.put_nowait(packet)

    async def emit(self, event: str, data: Any, on_ack: Callable[[Any, float], None]) -> None:
        """Send `event` with an ack id; `on_ack(answer, arrival time)` when it comes."""
        self.next_id += 1
        self.acks[self.next_id] = on_ack
        encoded = sio_packet.Packet(sio_packet.EVENT, data=[event, data], id=self.next_id).encode()
        parts = encoded if isinstance(encoded, list) else [encoded]
        async with self.sending:
            await self.ws.send_str("4" + parts[0])
            for attachment in parts[1:]:
                await self.ws.send_bytes(attachment)

    async def call(self, event: str, data: Any) -> Any:
        answered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        await self.emit(event, data, lambda answer, _at: answered.set_result(answer))
        answer = await asyncio.wait_for(answered, TIMEOUT_S)
        if not (isinstance(answer, dict) and answer.get("ok")):
            raise RuntimeError(f"{event} refused: {answer}")
        return answer

    async def join_and_open(self, yjs: bool) -> dict[str, Any]:
        await self.call("join_project", {"repo": REPO})
        return await self.call("open_issue", {"repo": REPO, "number": NUMBER, "yjs": yjs})

    async def close(self) -> None:
        await self.ws.close()
        with contextlib.suppress(Exception):
            await self.reading


def body_of(*updates: bytes) -> str:
    """The body of the document these updates make, merged first (merging takes updates in
    any order; applying one by one does not, see realtime/drafts/updates.py)."""
    doc = Doc()
    present = [update for update in updates if update]
    if present:
        doc.apply_update(present[0] if len(present) == 1 else merge_updates(*present))
    return str(doc.get("body", type=Text))


def digest(text: str) -> tuple[str, int]:
    return hashlib.sha256(text.encode()).hexdigest()[:12], len(text)


# --- editors ----------------------------------------------------------------------------


def _ignore(answer: Any, at: float) -> None:
    pass


# (phase, editor, client id, first clock, sent at, acked at, version, held); acked at is
# NaN until the ack comes, and stays NaN (and version holds the error) if it was refused;
# held: the server holds the update until one it depends on arrives.
Edit = list[Any]


class Editor:
    """A Yjs editor: a pycrdt document kept in step with every `draft:sync` it hears,
    which types 1-3 letters at a random place of its body and sends the update. Asked
    for a sync (the server's step 1: it holds an update whose dependency never came), it
    answers as y-protocols does, with step 2: what it has that the server lacks."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.random = random.Random(index)
        self.doc = Doc()
        self.body = self.doc.get("body", type=Text)
        self.socket: Socket | None = None
        self.pending = 0  # updates sent and not acked yet
        self.asked = 0  # sync step 1s from the server
        self.answers: set[asyncio.Task[None]] = set()

    def hear(self, message: bytes, at: float) -> None:
        kind, payload = protocol.read_sync(message)
        if kind == YSyncMessageType.SYNC_STEP1:
            self.asked += 1
            answer = asyncio.create_task(self.answer(payload))
            self.answers.add(answer)
            answer.add_done_callback(self.answers.discard)
        else:
            self.doc.apply_update(payload)

    async def answer(self, state_vector: bytes) -> None:
        assert self.socket is not None
        message = protocol.step2(self.doc.get_update(state_vector))
        await self.socket.emit(
            "draft:sync", {"repo": REPO, "number": NUMBER, "message": message}, _ignore
        )

    async def open(self, session: aiohttp.ClientSession, url: str) -> None:
        self.socket = await Socket.open(session, url, editor_token(self.index), on_update=self.hear)
        answer = await self.socket.join_and_open(yjs=True)
        self.doc.apply_update(protocol.read_sync(answer["sync_step2"])[1])

    async def edit(self, phase: str, edits: list[Edit], done: Callable[[], None]) -> None:
        assert self.socket is not None
        letters = "".join(self.random.choices(string.ascii_lowercase, k=self.random.randint(1, 3)))
        before = self.doc.get_state()
        self.body.insert(self.random.randint(0, len(self.body)), letters)
        update = self.doc.get_update(before)
        start, _end = needs(update).blocks[self.doc.client_id]
        record: Edit = [phase, self.index, self.doc.client_id, start, 0.0, math.nan, "", False]
        edits.append(record)
        self.pending += 1

        def acked(answer: Any, at: float) -> None:
            self.pending -= 1
            if isinstance(answer, dict) and answer.get("ok"):
                record[5], record[6] = at, answer.get("version", "")
                record[7] = bool(answer.get("held"))
            else:
                record[6] = f"refused: {answer}"
            done()

        message = protocol.update(update)
        record[4] = time.monotonic()
        await self.socket.emit(
            "draft:sync", {"repo": REPO, "number": NUMBER, "message": message}, acked
        )


async def run_rate(
    editors: list[Editor], phase: str, rate: float, seconds: float, in_flight: int
) -> list[Edit]:
    """The editors together send `rate` updates a second for `seconds`, each on its own
    absolute schedule (staggered so that their sends interleave evenly), but never more
    than `in_flight` unacked each; then the acks, for up to DRAIN_S.

    The bound is there for a server that cannot keep up: behind an unbounded backlog it
    reads the sockets' pongs too late and drops them ("ping timeout"). Bounded, an
    editor falls behind its schedule instead, and sent/s shows it."""
    edits: list[Edit] = []
    per_editor = rate / len(editors)
    count = max(1, round(per_editor * seconds))
    all_acked = asyncio.Event()
    expected = count * len(editors)
    answered = 0
    slots = {editor.index: asyncio.Semaphore(in_flight) for editor in editors}
    start = time.monotonic() + 0.05

    async def type_(editor: Editor) -> None:
        def done() -> None:
            nonlocal answered
            slots[editor.index].release()
            answered += 1
            if answered == expected:
                all_acked.set()

        offset = editor.index / len(editors) / per_editor
        for k in range(count):
            delay = start + offset + k / per_editor - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots[editor.index].acquire()
            await editor.edit(phase, edits, done)

    await asyncio.gather(*(type_(editor) for editor in editors))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_acked.wait(), DRAIN_S)
    return edits


async def run_max(editors: list[Editor], phase: str, seconds: float, window: int) -> list[Edit]:
    """Each editor keeps `window` updates in flight for `seconds`: the server's pace."""
    edits: list[Edit] = []
    end = time.monotonic() + seconds

    async def type_(editor: Editor) -> None:
        slots = asyncio.Semaphore(window)
        finished = asyncio.Event()

        def done() -> None:
            slots.release()
            if editor.pending == 0 and time.monotonic() >= end:
                finished.set()

        while time.monotonic() < end:
            await slots.acquire()
            await editor.edit(phase, edits, done)
        if editor.pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(finished.wait(), DRAIN_S)

    await asyncio.gather(*(type_(editor) for editor in editors))
    return edits


# --- viewers ----------------------------------------------------------------------------


class Viewer:
    """A Yjs viewer: records each `draft:sync` update with its arrival time, nothing more
    until the run is over. (It has nothing to answer a sync step 1 with, and may not
    write: it ignores one.)"""

    def __init__(self, index: int) -> None:
        self.index = index
        self.arrivals: list[tuple[float, bytes]] = []
        self.step2 = b""
        self.socket: Socket | None = None

    def hear(self, message: bytes, at: float) -> None:
        if message[1] != YSyncMessageType.SYNC_STEP1:
            self.arrivals.append((at, message))

    async def open(self, session: aiohttp.ClientSession, url: str) -> None:
        self.socket = await Socket.open(session, url, reader_token(self.index), on_update=self.hear)
        answer = await self.socket.join_and_open(yjs=True)
        self.step2 = protocol.read_sync(answer["sync_step2"])[1]

    def ranges(self) -> dict[int, tuple[list[int], list[int], list[float]]]:
        """Per Yjs client: the (start, end, arrival) of each arrival's clock range, by start."""
        found: dict[int, list[tuple[int, int, float]]] = {}
        for at, message in self.arrivals:
            update = protocol.read_sync(message)[1]
            for client, (start, end) in needs(update).blocks.items():
                found.setdefault(client, []).append((start, end, at))
        ranges = {}
        for client, entries in found.items():
            entries.sort()
            ranges[client] = (
                [e[0] for e in entries],
                [e[1] for e in entries],
                [e[2] for e in entries],
            )
        return ranges

    def body(self) -> str:
        return body_of(self.step2, *(protocol.read_sync(m)[1] for _, m in self.arrivals))


def arrival(
    ranges: dict[int, tuple[list[int], list[int], list[float]]], client: int, clock: int
) -> float | None:
    entry = ranges.get(client)
    if entry is None:
        return None
    starts, ends, times = entry
    at = bisect_right(starts, clock) - 1
    if at < 0 or clock >= ends[at]:
        return None
    return times[at]


def analyse(viewers: list[Viewer], edits: list[Edit]) -> dict[str, dict[str, Any]]:
    """Per phase: send->viewer and ack->viewer latencies (ms) over (edit, viewer), per edit
    the latest arrival among these viewers, the last arrival, and what is missing."""
    phases: dict[str, dict[str, Any]] = {}
    for edit in edits:
        phase = phases.setdefault(
            edit[0], {"send": [], "ack": [], "latest": {}, "last": -math.inf, "missing": 0}
        )
        phase["latest"][(edit[2], edit[3])] = -math.inf
    for viewer in viewers:
        ranges = viewer.ranges()
        for phase_name, _editor, client, clock, sent, acked, _version, _held in edits:
            phase = phases[phase_name]
            at = arrival(ranges, client, clock)
            if at is None:
                phase["missing"] += 1
                continue
            phase["send"].append((at - sent) * 1000)
            if not math.isnan(acked):
                phase["ack"].append((at - acked) * 1000)
            key = (client, clock)
            phase["latest"][key] = max(phase["latest"][key], at)
            phase["last"] = max(phase["last"], at)
    return phases


# --- client processes -------------------------------------------------------------------


def client_process(role: str, url: str, indices: list[int], pipe: Connection) -> None:
    """Connect this process's editors or viewers, then answer the driver's commands."""
    os.sched_setaffinity(0, {CLIENT_CORE})
    try:
        import uvloop

        runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)
    except ImportError:
        runner = asyncio.Runner()
    try:
        with runner:
            runner.run(_serve(role, url, indices, pipe))
    except Exception as error:
        pipe.send(("failed", f"{type(error).__name__}: {error}"))


async def _serve(role: str, url: str, indices: list[int], pipe: Connection) -> None:
    clients: list[Any] = [Editor(i) if role == "editor" else Viewer(i) for i in indices]
    gate = asyncio.Semaphore(8)

    async def open_one(client: Any) -> None:
        async with gate:
            await client.open(session, url)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        try:
            await asyncio.gather(*(open_one(client) for client in clients))
            pipe.send(("ready", None))
            while True:
                command, *arguments = await asyncio.to_thread(pipe.recv)
                if command == "close":
                    break
                pipe.send((command, _answer(clients, command, arguments)))
                if command == "phase":
                    pipe.send(("phase", await _phase(clients, *arguments)))
        finally:
            await asyncio.gather(
                *(c.socket.close() for c in clients if c.socket is not None),
                return_exceptions=True,
            )
    pipe.send(("closed", None))


def _answer(clients: list[Any], command: str, arguments: list[Any]) -> Any:
    if command == "counts":
        return [len(viewer.arrivals) for viewer in clients]
    if command == "bodies":
        if isinstance(clients[0], Editor):
            return [digest(str(editor.body)) for editor in clients]
        return [digest(viewer.body()) for viewer in clients]
    if command == "analyse":
        return analyse(clients, arguments[0])
    if command == "phase":
        return "started"
    raise ValueError(f"unknown command {command!r}")


async def _phase(
    editors: list[Editor], phase: str, rate: float | None, seconds: float, limit: int
) -> tuple[list[Edit], int, int]:
    """The phase's edits, the body's length (characters) once they are all acked, and
    how often the server asked an editor for a sync meanwhile."""
    asked = sum(editor.asked for editor in editors)
    if rate is None:
        edits = await run_max(editors, phase, seconds, limit)
    else:
        edits = await run_rate(editors, phase, rate, seconds, limit)
    asked = sum(editor.asked for editor in editors) - asked
    return edits, len(str(editors[0].body)), asked


# --- the driver -------------------------------------------------------------------------


class Clients:
    """The client processes, on the client core, and their pipes."""

    def __init__(self, url: str, editors: int, viewers: int, processes: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.workers: list[Any] = []
        self.pipes: list[Connection] = []
        shares = [("editor", list(range(editors)))]
        shares += [("viewer", list(range(p, viewers, processes))) for p in range(processes)]
        for role, indices in shares:
            parent, child = context.Pipe()
            worker = context.Process(target=client_process, args=(role, url, indices, child))
            worker.start()
            self.workers.append(worker)
            self.pipes.append(parent)
        for pipe in self.pipes:
            self.receive(pipe, "ready", TIMEOUT_S * 2)

    @property
    def editor(self) -> Connection:
        return self.pipes[0]

    @property
    def viewers(self) -> list[Connection]:
        return self.pipes[1:]

    @property
    def pids(self) -> list[int]:
        return [worker.pid for worker in self.workers]

    @staticmethod
    def receive(pipe: Connection, kind: str, timeout: float = TIMEOUT_S * 4) -> Any:
        if not pipe.poll(timeout):
            raise SystemExit(f"a client process did not answer {kind!r} in {timeout} s")
        got, value = pipe.recv()
        if got != kind:
            raise SystemExit(f"a client process answered {got}: {value}")
        return value

    def ask(self, pipes: list[Connection], command: str, *arguments: Any) -> list[Any]:
        for pipe in pipes:
            pipe.send((command, *arguments))
        return [self.receive(pipe, command) for pipe in pipes]

    def view_counts(self) -> list[int]:
        return [n for counts in self.ask(self.viewers, "counts") for n in counts]

    def close(self) -> None:
        for pipe in self.pipes:
            with contextlib.suppress(OSError):
                pipe.send(("close",))
        for worker in self.workers:
            worker.join(10)
            if worker.is_alive():
                worker.kill()
                worker.join()


@dataclass
class Phase:
    name: str
    rate: float | None  # None: max
    edits: list[Edit]
    body: int  # characters, at the phase's end
    asked: int  # sync step 1s the server sent editors
    window_s: float
    server_cpu_s: float
    client_cpu_s: float
    drained: bool


def start_server(editors: int, readers: int, redis_url: str | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = ["taskset", "-c", str(SERVER_CORE), sys.executable]
    command += [str(ROOT / "bench/coediting_server.py"), str(port), str(editors), str(readers)]
    if redis_url:
        command.append(redis_url)
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    wait_for_port(port)
    return process, f"http://127.0.0.1:{port}"


def updates_fanned_out(http: httpx.Client) -> float:
    found = UPDATES_METRIC.search(http.get("/metrics").text)
    return float(found.group(1)) if found else 0.0


def wait_settled(http: httpx.Client, pids: list[int]) -> None:
    """Until the server has nothing queued or running in the background, and it and the
    clients are idle (each join and open tells the project room)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        count = http.get("/bench/count").json()
        if not count["queued"] and not count["background"]:
            break
        time.sleep(0.1)
    while time.monotonic() < deadline:
        before = [cpu_s(pid) for pid in pids]
        time.sleep(0.5)
        if all(cpu_s(pid) - b < 0.05 for pid, b in zip(pids, before, strict=True)):
            return
    print("  (warning: never idle before the phase)", flush=True)


def run_phase(
    clients: Clients,
    http: httpx.Client,
    server_pid: int,
    name: str,
    rate: float | None,
    seconds: float,
    window: int,
    in_flight: int,
    profile: str | None,
) -> Phase:
    fanned_before = updates_fanned_out(http)
    heard_before = clients.view_counts()
    server_before, client_before = cpu_s(server_pid), cpu_s(*clients.pids)
    started = time.monotonic()
    clients.editor.send(("phase", name, rate, seconds, window if rate is None else in_flight))
    clients.receive(clients.editor, "phase")  # "started"
    spy = None
    if profile:
        command = [str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking"]
        command += ["-r", "200", "-d", str(math.ceil(seconds)), "-f", "raw"]
        command += ["-p", str(server_pid), "-o", profile]
        spy = subprocess.Popen(
            ["taskset", "-c", str(CLIENT_CORE), *command],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    edits, body, asked = clients.receive(clients.editor, "phase", seconds + DRAIN_S + TIMEOUT_S)
    expected = updates_fanned_out(http) - fanned_before
    deadline = time.monotonic() + DRAIN_S
    drained = False
    while time.monotonic() < deadline:
        counts = clients.view_counts()
        if all(now - then >= expected for now, then in zip(counts, heard_before, strict=True)):
            drained = True
            break
        time.sleep(0.02)
    window_s = time.monotonic() - started
    server_cpu = cpu_s(server_pid) - server_before
    client_cpu = cpu_s(*clients.pids) - client_before
    if spy is not None:
        spy.wait()
    return Phase(name, rate, edits, body, asked, window_s, server_cpu, client_cpu, drained)


def cell(values: list[float]) -> str:
    """p50/p99, with a decimal below 100."""
    if not values:
        return "-"
    shown = []
    for q in (0.5, 0.99):
        value = percentile(values, q)
        shown.append(f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}")
    return "/".join(shown)


def report(phases: list[Phase], results: list[dict[str, dict[str, Any]]], idle: float) -> None:
    print()
    print("ms unless marked; a/b = p50/p99; body: its characters at the phase's end;")
    print("send->viewer, ack->viewer: over every (edit, viewer); send->all: until the last")
    print("viewer has the edit; deliv/s: edits / (first send to the last arrival at a viewer);")
    print(f"CPU: until every viewer has every edit, server idle CPU ({idle:.0f} ms/s) included")
    header = (
        f"{'phase':>6}{'edits':>7}{'body':>7}{'sent/s':>8}{'deliv/s':>9}{'send->ack':>14}"
        f"{'send->viewer':>14}{'ack->viewer':>14}{'send->all':>14}{'missing':>9}"
        f"{'srv ms/edit':>12}{'srv core':>9}{'cli core':>9}"
    )
    print(header)
    for phase in phases:
        merged: dict[str, Any] = {"send": [], "ack": [], "latest": {}, "last": -math.inf}
        missing = 0
        for result in results:
            part = result[phase.name]
            merged["send"] += part["send"]
            merged["ack"] += part["ack"]
            merged["last"] = max(merged["last"], part["last"])
            missing += part["missing"]
            for key, at in part["latest"].items():
                merged["latest"][key] = max(merged["latest"].get(key, -math.inf), at)
        edits = phase.edits
        sent_at = {(e[2], e[3]): e[4] for e in edits}
        first = min(e[4] for e in edits)
        last_send = max(e[4] for e in edits)
        refused = [e for e in edits if math.isnan(e[5]) and e[6]]
        unacked = sum(1 for e in edits if math.isnan(e[5]) and not e[6])
        round_trip = [(e[5] - e[4]) * 1000 for e in edits if not math.isnan(e[5])]
        to_all = [
            (at - sent_at[key]) * 1000 for key, at in merged["latest"].items() if at > -math.inf
        ]
        sent_rate = len(edits) / (last_send - first) if last_send > first else math.nan
        delivered = len(edits) / (merged["last"] - first) if merged["last"] > first else math.nan
        print(
            f"{phase.name:>6}{len(edits):>7}{phase.body:>7}{sent_rate:>8.0f}{delivered:>9.0f}"
            f"{cell(round_trip):>14}{cell(merged['send']):>14}{cell(merged['ack']):>14}"
            f"{cell(to_all):>14}{missing:>9}"
            f"{phase.server_cpu_s / len(edits) * 1000:>12.2f}"
            f"{phase.server_cpu_s / phase.window_s:>9.0%}"
            f"{phase.client_cpu_s / phase.window_s:>9.0%}",
            flush=True,
        )
        if refused:
            print(f"  {len(refused)} edits refused, e.g. {refused[0][6]}")
        if unacked:
            print(f"  {unacked} edits not acked {DRAIN_S} s after the phase")
        held = sum(1 for e in edits if e[7])
        if held or phase.asked:
            print(
                f"  {held} edits held by the server for a missing dependency; it asked"
                f" editors to sync {phase.asked} times (answered with step 2)"
            )
        if not phase.drained:
            print("  (the viewers had not heard every update when the drain wait ended)")


def parse_rates(text: str) -> list[float | None]:
    return [
        None if part.strip() == "max" else float(part) for part in text.split(",") if part.strip()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--editors", type=int, default=10)
    parser.add_argument("--viewers", type=int, default=50)
    parser.add_argument("--rates", default=DEFAULT_RATES, help="edits/s, all editors; max")
    parser.add_argument("--seconds", type=float, default=10.0, help="per phase")
    parser.add_argument("--window", type=int, default=4, help="updates in flight per editor (max)")
    parser.add_argument(
        "--in-flight", type=int, default=64, help="most unacked updates per editor (rates)"
    )
    parser.add_argument("--viewer-processes", type=int, default=2)
    parser.add_argument("--redis-url", help="the native store at this URL (default: embedded)")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the server (see above)")
    parser.add_argument("--json", metavar="PATH", help="also write every edit's record here")
    parser.add_argument("--quick", action="store_true", help="2 s phases at 50,200,max")
    args = parser.parse_args()
    if args.quick:
        args.rates, args.seconds = "50,200,max", 2.0
    rates = parse_rates(args.rates)
    os.sched_setaffinity(0, {CLIENT_CORE})
    python = Path(sys.executable)
    if python.is_relative_to(ROOT):
        python = python.relative_to(ROOT)
    print("command:", " ".join([str(python), *sys.argv]), flush=True)
    print(
        f"{args.editors} Yjs editors, {args.viewers} Yjs viewers on {REPO}#{NUMBER}; server on"
        f" core {SERVER_CORE} ({'Redis' if args.redis_url else 'embedded store'}), clients on"
        f" core {CLIENT_CORE} in {args.viewer_processes + 1} processes; {args.seconds:g} s"
        f" per phase",
        flush=True,
    )
    server, url = start_server(args.editors, args.viewers + 1, args.redis_url)
    clients = None
    http = httpx.Client(base_url=url, timeout=30)
    try:
        clients = Clients(url, args.editors, args.viewers, args.viewer_processes)
        pids = [server.pid, *clients.pids]
        wait_settled(http, pids)
        before = cpu_s(server.pid)
        time.sleep(2.0)
        idle = (cpu_s(server.pid) - before) / 2.0 * 1000
        fixed = [rate for rate in rates if rate is not None]
        profiled = None if None in rates or not fixed else max(fixed)
        phases = []
        for rate in rates:
            name = "max" if rate is None else f"{rate:g}"
            print(f"phase {name} ...", flush=True)
            profile = args.profile if args.profile and rate == profiled else None
            phases.append(
                run_phase(
                    clients,
                    http,
                    server.pid,
                    name,
                    rate,
                    args.seconds,
                    args.window,
                    args.in_flight,
                    profile,
                )
            )
            wait_settled(http, pids)
        edits = [edit for phase in phases for edit in phase.edits]
        results = clients.ask(clients.viewers, "analyse", edits)
        report(phases, results, idle)
        if args.json:
            keys = ("phase", "editor", "client", "clock", "sent", "acked", "version", "held")
            rows = [dict(zip(keys, edit, strict=True)) for edit in edits]
            Path(args.json).write_text(json.dumps(rows))
        check_convergence(clients, url, args.viewers)
    finally:
        http.close()
        if clients is not None:
            clients.close()
        stop(server)


def check_convergence(clients: Clients, url: str, fresh_reader: int) -> None:
    """Every editor's and viewer's body against the server's, as a fresh JSON client
    opening the issue reads it (reader `fresh_reader` is a user no client is)."""

    async def server_body() -> str:
        async with aiohttp.ClientSession() as session:
            fresh = await Socket.open(session, url, reader_token(fresh_reader))
            try:
                answer = await fresh.join_and_open(yjs=False)
            finally:
                await fresh.close()
        return answer["draft"]["body"]

    server = digest(asyncio.run(server_body()))
    deadline = time.monotonic() + 10
    while True:
        editors = clients.ask([clients.editor], "bodies")[0]
        if all(body == server for body in editors) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    viewers = [body for share in clients.ask(clients.viewers, "bodies") for body in share]
    converged = all(body == server for body in editors + viewers)
    differ = sum(body != server for body in editors + viewers)
    print()
    print(
        f"converged: {'yes' if converged else 'no'} (body {server[1]} characters, sha256"
        f" {server[0]}; {len(editors)} editors and {len(viewers)} viewers"
        + ("" if converged else f", {differ} differ from the server")
        + ")"
    )


if __name__ == "__main__":
    main()
