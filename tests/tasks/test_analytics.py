"""The analytics beat tasks through a real in-process worker, the run-lock and the schedule."""

from __future__ import annotations

import time
from typing import Any

import redis

from schedules import build_schedule
from shared import snapshots
from shared.analytics.series import SUMMARY
from shared.runlock import try_acquire
from shared.settings import get_settings
from tests.shared.analytics.helpers import Ev, add_events


def _clear_of_midnight(margin_s: float = 5.0) -> None:
    """Sleep past UTC midnight when it is near: the summary counts today's users only."""
    to_midnight = 86_400 - time.time() % 86_400
    if to_midnight < margin_s:
        time.sleep(to_midnight + 0.1)


def test_rollup_task_through_a_worker_writes_the_summary(r: redis.Redis, worker: Any) -> None:
    from workers import app  # noqa: PLC0415

    # One below ANOMALY_MIN_VOLUME: detection judges the last *closed* minute, and these events
    # land in it or in the open one depending on the clock; below the minimum, both are skipped.
    n = get_settings().analytics.anomaly_min_volume - 1
    _clear_of_midnight()
    now_ms = int(time.time() * 1000)
    add_events(r, [Ev(now_ms - n + i, f"u{i % 4}", "m1" if i % 2 else "m2") for i in range(n)])
    result = app.send_task("analytics.rollup").get(timeout=30)
    assert result["events"] == n
    snap = snapshots.read(r, SUMMARY)
    assert snap is not None
    assert snap.data["messages_total"] == n
    assert snap.data["by_model"] == {"m1": n // 2, "m2": n - n // 2}
    assert snap.data["unique_users"] == 4
    detected = app.send_task("analytics.detect_anomalies").get(timeout=30)
    assert detected["alerts"] == 0
    assert detected["skipped"].startswith("low volume: ")


def test_a_second_rollup_while_one_runs_is_a_no_op(r: redis.Redis) -> None:
    from tasks.analytics import rollup_task  # noqa: PLC0415

    add_events(r, [Ev(int(time.time() * 1000), "u", "demo")])
    held = try_acquire(r, "analytics.rollup", 60)
    assert held.acquired
    assert rollup_task() == {"skipped": "locked"}
    assert snapshots.read(r, SUMMARY) is None
    held.release()
    assert rollup_task()["events"] == 1


def test_both_jobs_are_scheduled_with_expiry_equal_to_their_interval() -> None:
    schedule = build_schedule(get_settings())
    for name, interval in (
        ("analytics.rollup", get_settings().schedule.analytics_rollup_interval_s),
        ("analytics.detect_anomalies", get_settings().schedule.anomaly_detect_interval_s),
    ):
        assert schedule[name]["task"] == name
        assert schedule[name]["schedule"] == interval
        assert schedule[name]["options"]["expires"] == interval
