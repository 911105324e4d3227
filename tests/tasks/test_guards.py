"""sessions.sweep: the task body, its schedule entry, and the wiring through a real worker."""

from __future__ import annotations

from typing import Any

import redis
from fastapi.testclient import TestClient

from schedules import build_schedule
from shared import snapshots
from shared.guards import sessions
from shared.settings import get_settings

LONG = sessions.SessionLimits(5, 600.0)


def test_sweep_task_writes_the_active_sessions_snapshot(r: redis.Redis) -> None:
    from tasks.guards import sweep  # noqa: PLC0415

    for i in range(12):
        sessions.acquire(r, f"user{i}", "live", LONG)
    r.zadd("t:sess:{u:ghost}", {"old": 1})  # an expired member that no script has touched
    result = sweep()
    assert result == {"users": 12, "active": 12, "removed": 1}
    snap = snapshots.read(r, sessions.SNAPSHOT_NAME)
    assert snap is not None
    assert snap.data["active"] == 12


def test_schedule_entry_follows_the_settings() -> None:
    entry = build_schedule(get_settings())["sessions.sweep"]
    assert entry["schedule"] == get_settings().schedule.sessions_sweep_interval_s
    assert entry["options"]["expires"] == entry["schedule"]


def test_worker_runs_sweep_by_name_and_metrics_show_the_gauge(r: redis.Redis, worker: Any) -> None:
    from web.app import create_app  # noqa: PLC0415
    from workers import app  # noqa: PLC0415

    sessions.acquire(r, "u1", "a", LONG)
    sessions.acquire(r, "u2", "b", LONG)
    result = app.send_task("sessions.sweep").get(timeout=30)
    assert result["active"] == 2
    with TestClient(create_app()) as client:
        assert "chatbot_active_sessions 2.0" in client.get("/metrics").text
