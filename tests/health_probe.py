"""`health.probe` through a real worker, in a setup healthy by construction: it must pass.

The transport tests (a worker on Redis, on RabbitMQ, behind Sentinel, over TLS) bring every
dependency up, so any status but `pass` is a fault. A bare `pass` could still hide a check that
vanished, so the checks that show the round trip worked are asserted by name as well.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest

from shared import keys, snapshots
from shared.redis_client import RedisClient


def make_healthy(client: RedisClient, settings_env: pytest.MonkeyPatch) -> None:
    """A fresh beat heartbeat (no beat runs in these tests) and bounds a loaded machine meets."""
    from shared.settings import reset_settings  # noqa: PLC0415

    client.set(keys.beat_heartbeat(), repr(time.time()), ex=600)
    # SELECT 1 on SQLite and a worker's ping reply are fast, but not on a saturated CI machine;
    # a slow answer is not what these tests are about.
    settings_env.setenv("HEALTH_SQL_WARN_MS", "10000")
    settings_env.setenv("HEALTH_PING_TIMEOUT", "3")
    reset_settings()


@dataclass(frozen=True)
class Probe:
    task_id: str
    result: dict[str, Any]
    checks: dict[str, list[dict[str, Any]]]  # the snapshot's, keyed "component:measurement"


def probe(client: RedisClient) -> Probe:
    """Enqueue `health.probe`, wait for its result and read the snapshot it wrote."""
    from celery.result import AsyncResult  # noqa: PLC0415

    from workers import app  # noqa: PLC0415
    from workers.facade import enqueue  # noqa: PLC0415

    task_id = enqueue("health.probe")
    result = AsyncResult(task_id, app=app).get(timeout=30)
    snap = snapshots.parse(client.get(keys.snapshot("health")))
    assert snap is not None, "the worker wrote no health snapshot"
    return Probe(task_id, result, snap.data["checks"])


def assert_passed(probe: Probe) -> None:
    """Every check passed, and the ones that prove the worker and the broker answered exist."""
    checks = probe.checks
    not_passing = {
        key: (o["status"], o.get("output")) for key, obs in checks.items() for o in obs
        if o["status"] != "pass"
    }  # fmt: skip
    assert not_passing == {}
    assert probe.result == {"status": "pass"}
    assert checks["workers:ping"][0]["observedValue"] >= 1  # this test's worker answered
    assert checks["beat:heartbeatAge"][0]["observedValue"] < 60
    assert checks["sql:responseTime"][0]["observedValue"] is not None
    assert [k for k in checks if k.startswith("broker:queueDepth:")]  # one per declared queue
