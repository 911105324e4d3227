"""Restart Redis (no persistence) under load: worker and beat reconnect, health fails then passes.

One private redis-server carries the data plane (db 0) and the broker (db 1) for a real worker
and a real beat process. The test kills it with SIGKILL while a load thread enqueues tasks and
reads the web's health, restarts it empty, and measures how long each process takes to come back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.result import AsyncResult
from fastapi.testclient import TestClient

from tests.fixtures.processes import (
    RedisServer,
    child_env,
    figure,
    spawn_celery,
    stop_process,
    wait_for,
)

pytestmark = pytest.mark.faults
RECOVERY_BOUND_S = 60.0


@pytest.fixture
def stack(
    private_redis: RedisServer,
    settings_env: pytest.MonkeyPatch,
    reconfigure_app: Callable[[], dict[str, Any]],
    tmp_path: Path,
) -> Iterator[Path]:
    from shared.settings import reset_settings  # noqa: PLC0415

    env = {
        "REDIS_URL": f"{private_redis.url}/0",
        "BROKER_URL": f"{private_redis.url}/1",
        "HEALTH_PROBE_INTERVAL": "1",
        "HEALTH_PING_TIMEOUT": "0.5",
        "REDIS_TIMEOUT": "2",
        "REDIS_CONNECT_TIMEOUT": "1",
        "CELERY_PUBLISH_TIMEOUT": "2",
        "GUARD_REDIS_TIMEOUT": "0.5",
    }
    for name, value in env.items():
        settings_env.setenv(name, value)
    reset_settings()
    reconfigure_app()
    worker = spawn_celery(
        ["worker", "--pool", "threads", "-c", "2", "-n", "restart@%h", "--loglevel", "INFO"],
        child_env(**env),
        tmp_path / "worker.log",
    )
    beat = spawn_celery(["beat", "--loglevel", "INFO"], child_env(**env), tmp_path / "beat.log")
    try:
        yield tmp_path
    finally:
        stop_process(beat)
        stop_process(worker)


def _health(client: TestClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/health/advanced")
    return response.status_code, response.json()


def _fresh_pass(client: TestClient, after: float) -> bool:
    status, body = _health(client)
    fresh = float(body.get("generated_at", 0)) > after
    ping = body.get("checks", {}).get("workers:ping", [{}])[0].get("status")
    return status == 200 and fresh and ping == "pass"


def test_restart_redis_under_load(stack: Path, private_redis: RedisServer) -> None:
    from shared import keys  # noqa: PLC0415
    from shared.redis_client import get_redis  # noqa: PLC0415
    from web.app import create_app  # noqa: PLC0415
    from workers import app  # noqa: PLC0415
    from workers.facade import EnqueueError, enqueue  # noqa: PLC0415

    def logs() -> dict[str, str]:
        return {p.name: p.read_text(errors="replace")[-4000:] for p in stack.glob("*.log")}

    outcomes: dict[str, int] = {"enqueued": 0, "refused": 0}
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            try:
                enqueue("health.probe")
                outcomes["enqueued"] += 1
            except EnqueueError:
                outcomes["refused"] += 1
            stop.wait(0.05)

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        try:
            wait_for(lambda: _fresh_pass(client, 0), timeout_s=60, what="healthy before")
            loader = threading.Thread(target=load, daemon=True)
            loader.start()
            time.sleep(0.5)  # a little load before the fault (not a synchronisation)
            private_redis.kill()
            status, body = _health(client)
            assert status == 503
            assert body["status"] == "fail"
            assert client.get("/health/ready").status_code == 503
            # Guards follow their fail mode (RATE_LIMIT_FAIL_MODE=open): the chat is admitted.
            during = client.post("/chat", json={"message": "still there?"})
            assert during.status_code == 200, during.text
            assert "RateLimit" not in during.headers  # no decision was made, none is claimed
            down_since = time.monotonic()
            wait_for(lambda: outcomes["refused"] > 0, timeout_s=15, what="enqueue refused")
            wait_for(
                lambda: "Connection to broker lost" in (stack / "worker.log").read_text(),
                timeout_s=15,
                what="the worker noticed the outage",
            )
            private_redis.start()  # empty: nothing persisted
            restarted = time.time()
            t0 = time.monotonic()
            wait_for(
                lambda: get_redis().exists(keys.beat_heartbeat()),
                timeout_s=RECOVERY_BOUND_S,
                what="beat heartbeat after restart",
            )
            figure("beat_reconnect_s", time.monotonic() - t0, "s")
            wait_for(
                lambda: app.control.ping(timeout=0.5),
                timeout_s=RECOVERY_BOUND_S,
                what="worker answers ping after restart",
            )
            figure("worker_reconnect_s", time.monotonic() - t0, "s")
            task_id = wait_for(
                lambda: enqueue("health.probe"), timeout_s=RECOVERY_BOUND_S, what="enqueue"
            )
            AsyncResult(task_id, app=app).get(timeout=RECOVERY_BOUND_S)
            figure("task_round_trip_after_restart_s", time.monotonic() - t0, "s")
            wait_for(
                lambda: _fresh_pass(client, restarted),
                timeout_s=RECOVERY_BOUND_S,
                what="health passes again (a new snapshot from a beat-scheduled probe)",
            )
            figure("health_pass_after_restart_s", time.monotonic() - t0, "s")
            after = wait_for(
                lambda: (
                    (x := client.post("/chat", json={"message": "back?"})).status_code == 200
                    and "RateLimit" in x.headers
                    and x
                ),
                timeout_s=RECOVERY_BOUND_S,
                what="guards decide again after the restart",
            )
            assert after.headers["RateLimit-Policy"]
            figure("outage_s", t0 - down_since, "s")
        except BaseException:
            for name, text in logs().items():
                print(f"--- {name}\n{text}")
            raise
        finally:
            stop.set()
    assert outcomes["enqueued"] > 0
    assert outcomes["refused"] > 0
