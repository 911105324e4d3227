"""Tamper evidence: altered, deleted, truncated archives are detected; retention keeps it whole."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import orjson
from sqlalchemy import delete, func, select, update

from shared import audit, keys
from shared.audit import archive as audit_archive
from shared.audit import retention as audit_retention
from shared.audit import verify as audit_verify
from shared.audit.chain import chain_hash
from shared.db import get_engine
from shared.models.audit import CHECKPOINTS, EVENTS
from shared.settings import get_settings, reset_settings
from tests.shared.audit.helpers import append_many, assert_conserved


def _archive(r: Any, n: int) -> list[str]:
    logged = append_many(r, n)
    audit_archive.archive_and_trim(r, get_engine(), get_settings())
    return logged


def test_intact_chain_verifies(r: Any, sql_url: str) -> None:
    _archive(r, 50)
    report = audit_verify.verify_chain(get_engine(), batch=7)
    assert report.ok
    assert report.rows == 50
    assert report.broken_id is None


def test_altered_row_is_the_first_broken_link(r: Any, sql_url: str) -> None:
    logged = _archive(r, 30)
    with get_engine().begin() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.stream_id == logged[12]).values(actor="mallory"))
    report = audit_verify.verify_chain(get_engine(), batch=5)
    assert not report.ok
    assert report.broken_id == logged[12]
    assert report.rows == 12


def test_altered_row_with_recomputed_hash_breaks_the_next_link(r: Any, sql_url: str) -> None:
    logged = _archive(r, 10)
    with get_engine().begin() as conn:
        prev = conn.execute(
            select(EVENTS.c.hash).where(EVENTS.c.stream_id == logged[3])
        ).scalar_one()
        row = dict(
            conn.execute(select(EVENTS).where(EVENTS.c.stream_id == logged[4])).mappings().one()
        )
        row["details"] = orjson.dumps({"n": 999}).decode()
        forged = chain_hash(prev, row)
        conn.execute(
            update(EVENTS)
            .where(EVENTS.c.stream_id == logged[4])
            .values(details=row["details"], hash=forged)
        )
    report = audit_verify.verify_chain(get_engine())
    assert report.broken_id == logged[5]


def test_deleted_row_is_detected(r: Any, sql_url: str) -> None:
    logged = _archive(r, 20)
    with get_engine().begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.stream_id == logged[7]))
    report = audit_verify.verify_chain(get_engine())
    assert not report.ok
    assert report.broken_id == logged[8]


def test_deleted_newest_rows_are_detected(r: Any, sql_url: str) -> None:
    logged = _archive(r, 20)
    with get_engine().begin() as conn:
        conn.execute(delete(EVENTS).where(EVENTS.c.stream_id.in_(logged[-2:])))
    report = audit_verify.verify_chain(get_engine())
    assert not report.ok
    assert report.broken_id == logged[-1]
    assert "newest rows" in (report.reason or "")


def test_retention_purges_in_batches_and_the_chain_still_verifies(
    r: Any, sql_url: str, settings_env: Any
) -> None:
    settings_env.setenv("AUDIT_RETENTION_DAYS", "1")
    settings_env.setenv("AUDIT_PURGE_BATCH", "7")
    settings_env.setenv("AUDIT_PURGE_MAX_BATCHES", "2")
    settings_env.setenv("AUDIT_MAX_EVENTS", "1")
    reset_settings()
    base_ms = 1_000_000
    stream = keys.audit_stream()
    for i in range(40):  # explicit ids: event i was logged at base_ms + i
        r.xadd(stream, audit.event_fields("t", "a", {"i": i}), id=f"{base_ms + i}-0")
    audit_archive.archive_and_trim(r, get_engine(), get_settings())
    now = (base_ms + 20) / 1000 + 86400  # a day after event 20: events 0..19 expired
    first = audit_retention.purge_expired(get_engine(), get_settings(), now=now)
    assert (first.deleted, first.batches, first.more) == (14, 2, True)
    rest = audit_retention.purge_expired(get_engine(), get_settings(), now=now)
    assert (rest.deleted, rest.more) == (6, False)
    report = audit_verify.verify_chain(get_engine())
    assert report.ok
    assert report.rows == 20
    with get_engine().connect() as conn:
        assert conn.execute(select(func.count()).select_from(CHECKPOINTS)).scalar_one() == 3
        assert conn.execute(select(func.min(EVENTS.c.ms))).scalar_one() == base_ms + 20
    # Deleting the checkpoint that bridges the gap is itself detected.
    with get_engine().begin() as conn:
        newest = conn.execute(select(func.max(CHECKPOINTS.c.id))).scalar_one()
        conn.execute(delete(CHECKPOINTS).where(CHECKPOINTS.c.id == newest))
    assert not audit_verify.verify_chain(get_engine()).ok


def test_retention_zero_keeps_everything(r: Any, sql_url: str, settings_env: Any) -> None:
    settings_env.setenv("AUDIT_RETENTION_DAYS", "0")
    reset_settings()
    logged = _archive(r, 5)
    assert audit_retention.purge_expired(get_engine(), get_settings(), now=1e12).deleted == 0
    assert_conserved(r, logged)


def test_record_and_last_verification(r: Any, sql_url: str) -> None:
    _archive(r, 3)
    assert audit_verify.last_verification(get_engine()) is None
    audit_verify.record(get_engine(), audit_verify.verify_chain(get_engine()), now=1000.0)
    last = audit_verify.last_verification(get_engine())
    assert last is not None
    assert last["verified_ok"]
    assert last["verified_at"] == 1000.0


def test_cli_exit_status_and_first_broken_link(r: Any, sql_url: str) -> None:
    logged = _archive(r, 6)
    cmd = [sys.executable, "-m", "shared.audit.cli"]
    env_url = {"DATABASE_URL": sql_url}
    ok = subprocess.run(
        cmd, capture_output=True, text=True, timeout=60, check=False, env=_env(env_url)
    )
    assert ok.returncode == 0, ok.stderr
    assert "6 rows verified" in ok.stdout
    with get_engine().begin() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.stream_id == logged[2]).values(ip="6.6.6.6"))
    bad = subprocess.run(
        [*cmd, "--json", "--record"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=_env(env_url),
    )
    assert bad.returncode == 1
    assert orjson.loads(bad.stdout)["broken_id"] == logged[2]
    last = audit_verify.last_verification(get_engine())
    assert last is not None
    assert not last["verified_ok"]
    assert last["broken_id"] == logged[2]


def _env(extra: dict[str, str]) -> dict[str, str]:
    import os  # noqa: PLC0415

    return {**os.environ, **extra}
