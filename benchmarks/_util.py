"""Helpers shared by the harnesses: a private Redis, a uvicorn server, wrk parsing, tables."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
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
def uvicorn_server(
    factory: str, env: dict[str, str], *, extra: tuple[str, ...] = (), log: Path | None = None
) -> Iterator[str]:
    """Run `uvicorn --factory <factory> <extra>` on a free port; yields its base URL."""
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
        *extra,
    ]
    with serve(args, port, env, log=log) as base:
        yield base


@contextlib.contextmanager
def serve(
    args: list[str], port: int, env: dict[str, str], *, log: Path | None = None
) -> Iterator[str]:
    """Run a web server command that listens on `port`; yields its base URL, stops it after.

    The server runs in its own process group so a multi-process server (uvicorn --workers, a
    launcher) is stopped with all its children. Its output goes to `log` when given.
    """
    out = log.open("ab") if log else None
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **env},
        start_new_session=True,
        stdout=out,
        stderr=subprocess.STDOUT if out else None,
    )
    try:
        wait_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)
        if out:
            out.close()


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    assert found, f"unexpected wrk latency {text!r}"
    value, unit = found.groups()
    return float(value) * _UNITS[unit]


WRK_MISSING = "wrk is not installed. Install Debian's package: `apt-get install wrk`."


def require_wrk() -> None:
    """Stop with the install hint when `wrk` is not on PATH."""
    if shutil.which("wrk") is None:
        raise SystemExit(WRK_MISSING)


def wrk(
    url: str,
    *,
    seconds: float = 5,
    connections: int = 50,
    threads: int = 1,
    script: str | None = None,
    script_args: tuple[str, ...] = (),
) -> dict[str, float]:
    """Run wrk against `url` (optionally with a Lua script); requests/s, p50/p90/p99 in ms,
    non-2xx responses and socket errors (connect, read, write, timeout)."""
    require_wrk()
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency"]
    if script:
        args += ["-s", script]
    args.append(url)
    if script_args:
        args += ["--", *script_args]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    # Anchored: the thread-stats lines also end in percentages ("+/- Stdev 90.50%").
    found = {q: re.search(rf"^\s+{q}%\s+(\S+)$", out, re.MULTILINE) for q in (50, 90, 99)}
    assert all(found.values()), f"no latency distribution in wrk's output:\n{out}"
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": rps,
        **{f"p{q}_ms": _ms(m.group(1)) for q, m in found.items() if m},
        "non2xx": float(non2xx.group(1)) if non2xx else 0.0,
        "errors": float(sum(int(g) for g in errors.groups())) if errors else 0.0,
    }


def table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)
