"""Machines of a fleet for the tests: `hubbub serve` processes on one real Redis, against
the fake GitHub served over loopback HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from tests.fakes.serving import free_port
from tests.realtime.conftest import WEBHOOK_SECRET

ROOT = Path(__file__).resolve().parents[2]


class Machine:
    """One `hubbub serve` (or `hubbub dev`) process; ready once `start()` returns."""

    def __init__(
        self,
        name: str,
        redis_url: str | None,
        github_url: str,
        *,
        command: str = "serve",
        **environ: str,
    ) -> None:
        """`command`: `serve`, or `dev` (then `redis_url` None means the embedded store)."""
        self.name = name
        self.command = command
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - read on failure, closed in stop
        self.environ = {
            **os.environ,
            **({"REDIS_URL": redis_url} if redis_url else {}),
            "GITHUB_API_URL": github_url,
            "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "HUBBUB_MACHINE_ID": name,
            "HUBBUB_LOG_LEVEL": "WARNING",
            "HUBBUB_LOG_FORMAT": "text",
            "HUBBUB_CONNECT_LIMIT": "0",
            **environ,
        }
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self, timeout_s: float = 20.0) -> Machine:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "realtime",
                self.command,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                *(["--no-reload"] if self.command == "dev" else []),
            ],
            cwd=ROOT,
            env=self.environ,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        # Readiness of a child process: poll /readyz until it answers 200.
        async with httpx.AsyncClient(base_url=self.url) as client, asyncio.timeout(timeout_s):
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"{self.name} exited: {self.output()}")
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return self
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-3000:]

    def kill(self) -> None:
        """SIGKILL: no drain, no clean-up, as when a machine dies."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def terminate(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    async def exited(self, timeout_s: float = 20.0) -> int:
        assert self.process is not None
        async with asyncio.timeout(timeout_s):
            while self.process.poll() is None:
                await asyncio.sleep(0.05)
        return self.process.returncode

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._log.close()
