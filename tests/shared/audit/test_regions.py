"""Two regions, one SQL database: each archives, purges and verifies its own chain."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select, update

from shared import audit, keys
from shared.audit import archive as audit_archive
from shared.audit import query as audit_query
from shared.audit import retention as audit_retention
from shared.audit import verify as audit_verify
from shared.db import get_engine
from shared.models.audit import EVENTS, STATE
from shared.settings import get_settings, reset_settings

BROKERS = json.dumps({"eu": "redis://127.0.0.1:1/1", "us": "redis://127.0.0.1:2/1"})


def _as(settings_env: pytest.MonkeyPatch, region: str) -> None:
    settings_env.setenv("REGION", region)
    settings_env.setenv("REGION_BROKERS", BROKERS)
    reset_settings()


def _archive_region(r: Any, settings_env: pytest.MonkeyPatch, region: str, n: int) -> None:
    """`n` events in a fresh data plane (the region's own Redis) with the same stream ids in
    every region, archived by that region."""
    _as(settings_env, region)
    r.flushdb()
    for i in range(n):
        fields = audit.event_fields("test.event", f"{region}-admin", {"n": i})
        r.xadd(keys.audit_stream(), fields, id=f"1700000000000-{i + 1}")
    audit_archive.archive_and_trim(r, get_engine(), get_settings())


def test_each_region_keeps_and_verifies_its_own_chain(
    r: Any, sql_url: str, settings_env: pytest.MonkeyPatch
) -> None:
    _archive_region(r, settings_env, "eu", 5)
    _archive_region(r, settings_env, "us", 3)
    with get_engine().connect() as conn:
        rows = conn.execute(select(EVENTS.c.region, EVENTS.c.stream_id)).all()
        states = set(conn.execute(select(STATE.c.name)).scalars())
    assert sorted(region for region, _ in rows) == ["eu"] * 5 + ["us"] * 3
    assert states == {"eu", "us"}
    for region, n in (("eu", 5), ("us", 3)):
        _as(settings_env, region)
        report = audit_verify.verify_chain(get_engine())
        assert (report.ok, report.rows) == (True, n)

    # Tampering with one region's row breaks that region's chain only.
    with get_engine().begin() as conn:
        conn.execute(
            update(EVENTS)
            .where(EVENTS.c.region == "us", EVENTS.c.stream_id == "1700000000000-2")
            .values(actor="mallory")
        )
    _as(settings_env, "us")
    broken = audit_verify.verify_chain(get_engine())
    assert (broken.ok, broken.broken_id) == (False, "1700000000000-2")
    _as(settings_env, "eu")
    assert audit_verify.verify_chain(get_engine()).ok


def test_a_purge_removes_and_checkpoints_only_its_own_region(
    r: Any, sql_url: str, settings_env: pytest.MonkeyPatch
) -> None:
    _archive_region(r, settings_env, "eu", 4)
    _archive_region(r, settings_env, "us", 4)
    _as(settings_env, "us")
    assert audit_retention.purge_batch(get_engine(), 1700000000001, 10, now=0.0) == 4
    assert audit_verify.verify_chain(get_engine()).ok
    _as(settings_env, "eu")
    report = audit_verify.verify_chain(get_engine())
    assert (report.ok, report.rows, report.checkpoint_id) == (True, 4, None)
    [event] = audit_query.archive_page(get_engine(), audit_query.Filters(), None, 1)
    assert event.actor.startswith("eu-")
