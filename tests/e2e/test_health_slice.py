"""The whole vertical slice with real processes: beat → worker → snapshot → web."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "workers", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Path]:
    env = {**os.environ, "HEALTH_PROBE_INTERVAL": "1", "HEALTH_PING_TIMEOUT": "0.5"}
    worker = _spawn(
        ["worker", "--pool", "threads", "-c", "2", "-n", "e2e@%h", "--loglevel", "INFO"],
        env,
        tmp_path / "worker.log",
    )
    beat = _spawn(["beat", "--loglevel", "INFO"], env, tmp_path / "beat.log")
    try:
        yield tmp_path
    finally:
        _stop(beat)
        _stop(worker)


def test_beat_schedules_probe_worker_writes_snapshot_web_reads_it(
    processes: Path, settings_env: pytest.MonkeyPatch
) -> None:
    from shared.settings import reset_settings  # noqa: PLC0415
    from web.app import create_app  # noqa: PLC0415

    settings_env.setenv("HEALTH_PROBE_INTERVAL", "1")
    reset_settings()
    deadline = time.monotonic() + 40
    body: dict[str, object] = {}
    with TestClient(create_app()) as client:
        while time.monotonic() < deadline:
            response = client.get("/health/advanced")
            body = response.json()
            checks = body.get("checks", {})
            if response.status_code == 200 and "workers:ping" in checks:  # type: ignore[operator]
                break
            time.sleep(0.5)
    logs = {p.name: p.read_text(errors="replace")[-3000:] for p in processes.glob("*.log")}
    assert body.get("status") in ("pass", "warn"), (body, logs)
    checks = body["checks"]
    assert checks["workers:ping"][0]["status"] == "pass"  # type: ignore[index]
    assert "e2e@" in checks["workers:ping"][0]["output"]  # type: ignore[index]
    assert checks["beat:heartbeatAge"][0]["status"] == "pass"  # type: ignore[index]
