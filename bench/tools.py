"""What both benchmarks need: wrk on one core, a server and redis-server on the other."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_NO_PERSISTENCE = ("--save", "", "--appendonly", "no")
_UVICORN_OPTIONS = ("--loop", "uvloop", "--http", "httptools", "--no-access-log")
_UVICORN_OPTIONS += ("--log-level", "warning")


def wrk(
    url: str,
    seconds: int,
    *,
    headers: dict[str, str] | None = None,
    script: Path | None = None,
) -> tuple[float, float, float]:
    """(requests/s, p50 ms, p99 ms) from one wrk run pinned to core 0."""
    command = ["taskset", "-c", "0", "wrk", "-t1", "-c32", f"-d{seconds}s", "--latency"]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script is not None:
        command += ["-s", str(script)]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in output:
        raise SystemExit(f"wrk saw errors:\n{output}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return rate, _percentile(output, "50"), _percentile(output, "99")


def _percentile(output: str, which: str) -> float:
    value, unit = re.search(rf"\s{which}%\s+([\d.]+)(us|ms|s)", output).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wait_for_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit("the benchmark server did not start")


def start_redis() -> tuple[subprocess.Popen[bytes], str]:
    """A throwaway redis-server on core 0 (beside wrk), and its URL."""
    from tests.fakes.serving import free_port

    port = free_port()
    process = subprocess.Popen(
        ["taskset", "-c", "0", "redis-server", "--port", str(port), *_NO_PERSISTENCE],
        stdout=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process, f"redis://127.0.0.1:{port}/0"


def start_server(factory: str, port: int, environ: dict[str, str]) -> subprocess.Popen[bytes]:
    """uvicorn serving `factory` on core 1, as production would (uvloop, httptools)."""
    server = subprocess.Popen(
        [
            "taskset",
            "-c",
            "1",
            sys.executable,
            "-m",
            "uvicorn",
            factory,
            "--factory",
            "--port",
            str(port),
            *_UVICORN_OPTIONS,
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **environ},
    )
    wait_for_port(port)
    return server


def stop(*processes: subprocess.Popen[bytes] | None) -> None:
    for process in processes:
        if process is not None:
            process.terminate()
            process.wait()


RUNTIME = ROOT / "bench" / ".runtime"


def runtime_python() -> str:
    """A Python with only what `pip install .` (the Docker image) installs, made in
    bench/.runtime from requirements.txt on first use.

    The dev environment holds the test and bench packages, and several of the servers'
    own dependencies import what they find: engine.io imports aiohttp and requests, httpx
    imports rich and pygments for its command line. A server measured for memory in the
    dev environment carries ~16 MB that no deployment loads."""
    python = RUNTIME / "bin" / "python"
    stamp = RUNTIME / ".installed"
    requirements = ROOT / "requirements.txt"
    if stamp.exists() and stamp.stat().st_mtime >= requirements.stat().st_mtime:
        return str(python)
    print("making bench/.runtime from requirements.txt ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(RUNTIME)], check=True)
    install = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*install, "-r", str(requirements)], check=True)
    stamp.touch()
    return str(python)
