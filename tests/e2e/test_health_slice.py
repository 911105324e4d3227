"""The whole vertical slice with real processes: beat → worker → snapshot → web."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.fixtures.processes import child_env, spawn_celery, stop_process

pytestmark = pytest.mark.e2e


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Path]:
    env = child_env(HEALTH_PROBE_INTERVAL="1", HEALTH_PING_TIMEOUT="0.5")
    worker = spawn_celery(
        ["worker", "--pool", "threads", "-c", "2", "-n", "e2e@%h", "--loglevel", "INFO"],
        env,
        tmp_path / "worker.log",
    )
    beat = spawn_celery(["beat", "--loglevel", "INFO"], env, tmp_path / "beat.log")
    try:
        yield tmp_path
    finally:
        stop_process(beat)
        stop_process(worker)


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
