"""Helpers for fault tests: private redis-servers to kill, celery subprocesses, bounded waits."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from shared import embedded_redis

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def wait_for(
    condition: Callable[[], T], *, timeout_s: float, every_s: float = 0.1, what: str = ""
) -> T:
    """Poll `condition` until it returns a truthy value; fail the test after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as exc:  # a dependency still down: keep polling
            last = exc
        else:
            if last:
                return last
        time.sleep(every_s)
    raise AssertionError(f"not within {timeout_s} s: {what} (last: {last!r})")


class RedisServer:
    """A private, non-persistent redis-server on a fixed port that a test may kill and restart."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = embedded_redis.free_port()
        self.server: embedded_redis.EmbeddedRedis | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.server = embedded_redis.start(self.workdir, port=self.port)

    def kill(self) -> None:
        if self.server is not None and self.server.process.poll() is None:
            self.server.process.send_signal(signal.SIGKILL)
            self.server.process.wait(timeout=10)
        self.server = None

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def spawn_celery(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """`celery -A workers <args>` as a subprocess, output to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop_process(proc: subprocess.Popen[bytes], *, timeout_s: float = 15) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def child_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, **overrides}
    env.pop("PYTEST_CURRENT_TEST", None)
    return env


def figure(name: str, value: float, unit: str) -> None:
    """Print a measured figure (`pytest -s` shows it; benchmarks/README.md quotes them)."""
    print(f"FIGURE {name} = {value:.3f} {unit}")
