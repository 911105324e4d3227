"""Two regions on loopback, each a whole stack: data-plane Redis, broker Redis, worker, beat and
web server; one SQL database. An invalidation sent to region A reaches region B; with B's
broker down it is pending in A's outbox and lands in B once the broker is back; the global
summary is the sum of what both regions received; each region's audit chain verifies alone.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import redis

from tests.fixtures.processes import (
    RedisServer,
    child_env,
    figure,
    spawn_celery,
    stop_process,
    wait_for,
)
from tests.fixtures.web_server import WebServer, start_web_server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]
MESSAGE = "What is the capital of France?"

# Short intervals; every job the test does not need is off (a shared 2-core machine).
FAST = {
    "ANALYTICS_ROLLUP_INTERVAL": "1",
    "CACHE_OUTBOX_INTERVAL": "1",
    "AUDIT_TRIM_INTERVAL": "2",
    "CELERY_PUBLISH_TIMEOUT": "1",
    "BEAT_LOCK_TIMEOUT": "5",
    "HEALTH_PROBE_ENABLED": "false",
    "ANOMALY_DETECT_ENABLED": "false",
    "CACHE_WARMUP_ENABLED": "false",
    "CACHE_SWEEP_ENABLED": "false",
    "AUDIT_VERIFY_ENABLED": "false",
    "SESSIONS_SWEEP_ENABLED": "false",
    "FILES_CLEANUP_ENABLED": "false",
    "WEB_WRITE_BEHIND_INTERVAL_MS": "50",
}


@dataclass
class Region:
    name: str
    data: RedisServer
    broker: RedisServer
    env: dict[str, str] = field(default_factory=dict)
    web: WebServer | None = None
    chats: int = 0

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(f"{self.data.url}/0")

    def chat(self, token: str) -> str:
        """One /chat; returns X-Cache (hit, stale or miss)."""
        assert self.web is not None
        response = httpx.post(
            f"{self.web.url}/chat",
            json={"message": MESSAGE, "model": "demo"},
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert response.status_code == 200, response.text
        self.chats += 1
        return response.headers["X-Cache"]

    def get(self, path: str) -> dict[str, Any]:
        assert self.web is not None
        body: dict[str, Any] = httpx.get(f"{self.web.url}{path}", timeout=5).json()
        return body


def _entries(region: Region) -> int:
    client = region.redis()
    try:
        return len(list(client.scan_iter(match="t:cache:r:*")))
    finally:
        client.close()


def _outbox(region: Region) -> int:
    client = region.redis()
    try:
        return int(client.hlen("t:cache:outbox"))
    finally:
        client.close()


@pytest.fixture
def regions(tmp_path: Path, settings_env: pytest.MonkeyPatch) -> Iterator[tuple[Region, Region]]:
    from shared import db  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415

    made = [
        Region(name, RedisServer(tmp_path / name / "data"), RedisServer(tmp_path / name / "mq"))
        for name in ("a", "b")
    ]
    for region in made:
        region.data.start()
        region.broker.start()
    brokers = json.dumps({r.name: f"{r.broker.url}/0" for r in made})
    database_url = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    settings_env.setenv("DATABASE_URL", database_url)
    reset_settings()
    db.ensure_schema()
    procs = []
    try:
        for region in made:
            region.env = {
                **FAST,
                "REGION": region.name,
                "REGION_BROKERS": brokers,
                "REDIS_URL": f"{region.data.url}/0",
                "BROKER_URL": f"{region.broker.url}/0",
                "DATABASE_URL": database_url,
            }
            env = child_env(**region.env)
            logs = tmp_path / region.name
            worker = ["worker", "--pool", "threads", "-c", "4", "-Q", "latency,heavy"]
            worker += ["-n", f"{region.name}@%h", "--loglevel", "INFO"]
            procs.append(spawn_celery(worker, env, logs / "worker.log"))
            procs.append(spawn_celery(["beat", "--loglevel", "INFO"], env, logs / "beat.log"))
            region.web = start_web_server(logs / "web", region.env)
        for region in made:
            log = tmp_path / region.name / "worker.log"
            wait_for(lambda log=log: " ready." in log.read_text(), timeout_s=60, what="worker up")
        yield made[0], made[1]
    finally:
        for region in made:
            if region.web is not None:
                region.web.stop()
        for proc in procs:
            stop_process(proc)
        for region in made:
            region.data.stop()
            region.broker.stop()


def _invalidate(sender: Region, admin: str, tag: str) -> dict[str, Any]:
    assert sender.web is not None
    response = httpx.post(
        f"{sender.web.url}/admin/cache/invalidate",
        json={"tag": tag},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=10,
    )
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def _token(sub: str, role: str | None = None) -> str:
    from shared.settings import get_settings  # noqa: PLC0415

    claims: dict[str, Any] = {"sub": sub, "exp": int(time.time() + 600)}
    if role:
        claims["role"] = role
    return jwt.encode(claims, get_settings().web.jwt_secret or "", algorithm="HS256")


def test_two_regions(regions: tuple[Region, Region]) -> None:
    a, b = regions
    user, admin = _token("alice"), _token("root", "admin")

    # Chat in both regions: B's answer is cached in B's own data plane.
    assert a.chat(user) == "miss"
    assert b.chat(user) == "miss"
    wait_for(lambda: b.chat(user) == "hit", timeout_s=10, what="B caches its answer")
    assert _entries(b) == 1

    # A tag invalidation sent to A empties B's matching entries.
    sent_at = time.monotonic()
    body = _invalidate(a, admin, "model:demo")
    assert {name: r["state"] for name, r in body["regions"].items()} == {"a": "sent", "b": "sent"}
    wait_for(lambda: _entries(b) == 0, timeout_s=20, what="B's entries invalidated")
    figure("regions_invalidate_reaches_b_s", time.monotonic() - sent_at, "s")
    assert b.chat(user) == "miss"
    wait_for(lambda: b.chat(user) == "hit", timeout_s=10, what="B caches again")

    # B's broker down: 202 with B pending; B's cache keeps serving.
    b.broker.stop()
    body = _invalidate(a, admin, "model:demo")
    assert body["regions"]["a"]["state"] == "sent"
    assert body["regions"]["b"] == {"state": "pending", "task_id": None}
    time.sleep(2)  # A's outbox task retries (interval 1 s) and still cannot deliver
    assert b.chat(user) == "hit"
    assert _entries(b) == 1

    # B's broker is back: the invalidation lands in B within a bounded time.
    b.broker.start()
    back_at = time.monotonic()
    wait_for(lambda: _entries(b) == 0, timeout_s=45, what="pending invalidation lands in B")
    figure("regions_delivery_after_broker_back_s", time.monotonic() - back_at, "s")
    assert _outbox(a) == 0
    assert b.chat(user) == "miss"

    # Global analytics equal the sum of what both regions received.
    def global_matches() -> bool:
        view = a.get("/analytics/summary?scope=global")
        per_region = {n: r["messages_total"] for n, r in view["regions"].items()}
        return view["messages_total"] == a.chats + b.chats and per_region == {
            "a": a.chats,
            "b": b.chats,
        }

    wait_for(global_matches, timeout_s=20, what="global summary = sum of both regions")
    view = a.get("/analytics/summary?scope=global")
    # alice chatted in both regions: the HyperLogLog union counts her once.
    assert (view["unique_users"], view["unique_users_is_upper_bound"]) == (1, False)
    assert b.get("/analytics/summary")["messages_total"] == b.chats
    assert b.get("/analytics/summary?scope=global")["messages_total"] == a.chats + b.chats

    # The fan-out works from B too; then each region's audit chain (both archived into one
    # table) verifies on its own.
    body = _invalidate(b, admin, "model:demo")
    assert {name: r["state"] for name, r in body["regions"].items()} == {"a": "sent", "b": "sent"}
    _assert_chains_verify(a, b)


def _assert_chains_verify(*made: Region) -> None:
    from sqlalchemy import func, select  # noqa: PLC0415

    from shared.audit import verify  # noqa: PLC0415
    from shared.db import get_engine  # noqa: PLC0415
    from shared.models.audit import EVENTS  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415

    def archived(name: str) -> int:
        with get_engine().connect() as conn:
            mine = select(func.count()).select_from(EVENTS).where(EVENTS.c.region == name)
            return int(conn.execute(mine).scalar_one())

    for region in made:
        wait_for(lambda r=region: archived(r.name), timeout_s=15, what="audit events archived")
    for region in made:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("REGION", region.name)
            mp.setenv("REGION_BROKERS", region.env["REGION_BROKERS"])
            reset_settings()
            report = verify.verify_chain(get_engine())
        reset_settings()
        assert report.ok, (region.name, report)
