"""A real `redis-server` on a free loopback port, with no persistence, for one test session.

The native and REST backends are tested against real Redis, not a double of it. Without
the binary those tests skip, saying how to install it; under CI (`CI` set) they fail
instead, so a CI image that lost redis-server cannot pass by skipping.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from types import TracebackType

import pytest
import redis

from tests.fakes.serving import free_port

INSTALL_HINT = "redis-server is not installed (Debian/Ubuntu: apt-get install redis-server)"


def redis_server_binary() -> str:
    """The binary's path; skips the test (fails it under CI) when there is none."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail(f"{INSTALL_HINT}; CI must run the Redis-backed tests")
        pytest.skip(INSTALL_HINT)
    return binary


class RedisServer:
    """Starts on construction and is ready once constructed; `stop()` (or `with`) ends it."""

    def __init__(self, *, start_timeout_s: float = 10.0, durable: bool = False) -> None:
        """`durable`: every write is fsynced to an append-only file, so `restart()` comes
        back with the data, as a production Redis does."""
        self.binary = redis_server_binary()
        self.directory = tempfile.mkdtemp(prefix="hubbub-redis-")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.durable = durable
        self.start_timeout_s = start_timeout_s
        # Output goes to a file, not a pipe nobody reads (a full pipe would block Redis).
        self._log = open(os.path.join(self.directory, "redis.log"), "wb")  # noqa: SIM115
        self._start()

    def _start(self) -> None:
        persistence = ("--appendonly", "yes", "--appendfsync", "always") if self.durable else ()
        self.process = subprocess.Popen(
            [
                self.binary,
                *("--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--dir", self.directory),
                *persistence,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            self._wait_ready(self.start_timeout_s)
        except BaseException:
            self.stop()
            raise

    def restart(self) -> None:
        """Stop Redis (every client loses its connection) and start it on the same port."""
        self.pause()
        self.resume()

    def pause(self) -> None:
        """Stop Redis until `resume()`: a blip whose length the test decides."""
        self.process.terminate()
        self.process.wait(timeout=10)

    def resume(self) -> None:
        self._start()

    def _wait_ready(self, timeout_s: float) -> None:
        """Poll PING until Redis answers: readiness of a child process, not test sync."""
        deadline = time.monotonic() + timeout_s
        with redis.Redis(
            host="127.0.0.1", port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5
        ) as client:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self.process.poll() is not None:
                        raise RuntimeError(f"redis-server exited: {self._output()}") from None
                    if time.monotonic() > deadline:
                        raise RuntimeError("redis-server did not answer PING in time") from None
                    time.sleep(0.01)

    def _output(self) -> str:
        self._log.flush()
        with open(self._log.name, encoding="utf-8", errors="replace") as log:
            return log.read()[-2000:]

    def flush(self) -> None:
        with redis.Redis(host="127.0.0.1", port=self.port) as client:
            client.flushall()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
