"""Helpers shared by the harnesses: a private Redis, a uvicorn server, wrk parsing, tables."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import embedded_redis

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def private_redis() -> Iterator[embedded_redis.EmbeddedRedis]:
    """A redis-server of our own on a free port, so a benchmark never disturbs other work."""
    server = embedded_redis.start(Path(tempfile.mkdtemp(prefix="bench-redis-")))
    try:
        yield server
    finally:
        server.stop()


def wait_port(port: int, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port} after {timeout_s} s")


@contextlib.contextmanager
def uvicorn_server(factory: str, env: dict[str, str]) -> Iterator[str]:
    """Run `uvicorn --factory <factory>` on a free port; yields its base URL."""
    port = embedded_redis.free_port()
    args = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        factory,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        # As `python -m web.serve` runs it: TRUSTED_PROXIES alone decides whose header counts.
        "--no-proxy-headers",
    ]
    proc = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **env})
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    assert found, f"unexpected wrk latency {text!r}"
    value, unit = found.groups()
    return float(value) * _UNITS[unit]


def wrk(url: str, *, seconds: int = 5, connections: int = 50, threads: int = 1) -> dict[str, float]:
    """Run wrk against `url`; requests/s and p50/p99 latency in ms."""
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
    }


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
