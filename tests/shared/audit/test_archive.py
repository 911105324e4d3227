"""audit.trim's body: archive before trim, exactly once, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import audit, keys
from shared.audit import archive as audit_archive
from shared.audit.verify import verify_chain
from shared.db import get_engine
from shared.settings import get_settings, reset_settings
from tests.shared.audit.helpers import append_many, archive_ids, assert_conserved, redis_ids


def _run(r: Any) -> audit_archive.TrimResult:
    """One trim run (bounded by AUDIT_TRIM_MAX_BATCHES)."""
    return audit_archive.archive_and_trim(r, get_engine(), get_settings())


def _drain(r: Any) -> None:
    """Runs until no backlog is left."""
    for _ in range(100):
        if not _run(r).more:
            return
    raise AssertionError("backlog never drained")


def test_25k_events_keep_newest_10k_in_redis(r: Any, sql_url: str) -> None:
    logged = append_many(r, 25_000)
    result = _run(r)
    assert result.archived == 25_000
    assert not result.more
    counts = assert_conserved(r, logged)
    assert counts == {"redis": 10_000, "archive": 25_000}
    assert redis_ids(r) == logged[-10_000:]
    assert r.get(keys.audit_watermark()) == logged[-1].encode()
    assert verify_chain(get_engine()).ok


def test_rerun_archives_nothing_twice(r: Any, sql_url: str, settings_env: Any) -> None:
    settings_env.setenv("AUDIT_MAX_EVENTS", "3")
    reset_settings()
    logged = append_many(r, 10)
    assert _run(r).archived == 10
    assert _run(r).archived == 0
    logged += append_many(r, 5, start=10)
    assert _run(r).archived == 5
    assert assert_conserved(r, logged) == {"redis": 3, "archive": 15}
    assert verify_chain(get_engine()).rows == 15


def test_crash_after_commit_before_trim_is_finished_next_run(
    r: Any, sql_url: str, settings_env: Any
) -> None:
    settings_env.setenv("AUDIT_MAX_EVENTS", "2")
    reset_settings()
    logged = append_many(r, 8)
    with get_engine().begin() as conn:
        state = audit_archive.read_state(conn)
    events = [audit.parse_entry(sid, f) for sid, f in r.xrange(keys.audit_stream(), count=5)]
    audit_archive.commit_batch(get_engine(), events, state)  # then "crash": no trim
    assert assert_conserved(r, logged) == {"redis": 8, "archive": 5}
    result = _run(r)
    assert result.archived == 3
    assert assert_conserved(r, logged) == {"redis": 2, "archive": 8}
    assert verify_chain(get_engine()).ok


def test_stale_state_is_refused_and_rolled_back(r: Any, sql_url: str) -> None:
    append_many(r, 4)
    with get_engine().begin() as conn:
        stale = audit_archive.read_state(conn)
    events = [audit.parse_entry(s, f) for s, f in r.xrange(keys.audit_stream())]
    audit_archive.commit_batch(get_engine(), events[:2], stale)
    # A second archiver still holding the old state must not fork the chain.
    with pytest.raises(audit_archive.ArchiveConflictError):
        audit_archive.commit_batch(get_engine(), events[:3], stale)
    assert len(archive_ids()) == 2
    assert verify_chain(get_engine()).ok


def test_trim_never_removes_unarchived_events(r: Any, sql_url: str, settings_env: Any) -> None:
    settings_env.setenv("AUDIT_MAX_EVENTS", "1")
    reset_settings()
    logged = append_many(r, 6)
    removed = audit_archive.trim_redis(r, logged[2], get_settings())
    # The script trusts the watermark it is given: it removes up to and including it only.
    assert removed == 3
    assert redis_ids(r) == logged[3:]


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 40), st.sampled_from(["trim", "commit_only", "none"])),
        min_size=1,
        max_size=8,
    ),
    keep=st.integers(1, 30),
    batch=st.integers(2, 25),
)
def test_conservation_property(
    r: Any, settings_env: Any, steps: list[tuple[int, str]], keep: int, batch: int
) -> None:
    """Any interleaving of appends, full runs and runs that stop after a commit conserves."""
    from shared import db  # noqa: PLC0415

    settings_env.setenv("AUDIT_MAX_EVENTS", str(keep))
    settings_env.setenv("AUDIT_TRIM_BATCH", str(batch))
    reset_settings()
    r.flushdb()
    db.Base.metadata.drop_all(get_engine())
    db.ensure_schema()
    logged: list[str] = []
    for appended, action in steps:
        logged += append_many(r, appended, start=len(logged))
        if action == "trim":
            _run(r)
        elif action == "commit_only":
            with get_engine().begin() as conn:
                state = audit_archive.read_state(conn)
            entries = r.xrange(keys.audit_stream(), min=state.start, count=batch)
            if entries:
                events = [audit.parse_entry(s, f) for s, f in entries]
                audit_archive.commit_batch(get_engine(), events, state)
        assert_conserved(r, logged)
    _drain(r)
    counts = assert_conserved(r, logged)
    assert counts["archive"] == len(logged)
    assert counts["redis"] == min(keep, len(logged))
    assert verify_chain(get_engine()).ok


def test_hot_loop_hash_equals_the_canonical_definition() -> None:
    from shared.audit import parse_entry  # noqa: PLC0415
    from shared.audit.chain import ROW_COLUMNS, chain_hash, chained_rows  # noqa: PLC0415
    from shared.models.audit import GENESIS_HASH  # noqa: PLC0415

    fields = audit.event_fields("t", "ä", {"x": "ü", "k": [1, None]}, ip="::1", result="ok")
    events = [parse_entry(f"{i}-0", fields) for i in range(1, 4)]
    prev = GENESIS_HASH
    for row in chained_rows(events, GENESIS_HASH):
        as_dict = dict(zip(ROW_COLUMNS, row, strict=True))
        prev = chain_hash(prev, as_dict)
        assert as_dict["hash"] == prev


def test_one_run_is_bounded_and_the_next_continues(r: Any, settings_env: Any, sql_url: str) -> None:
    settings_env.setenv("AUDIT_TRIM_BATCH", "3")
    settings_env.setenv("AUDIT_TRIM_MAX_BATCHES", "2")
    settings_env.setenv("AUDIT_MAX_EVENTS", "1")
    reset_settings()
    logged = append_many(r, 10)
    first = _run(r)
    assert (first.archived, first.batches, first.more) == (6, 2, True)
    assert assert_conserved(r, logged) == {"redis": 4, "archive": 6}
    _drain(r)
    assert assert_conserved(r, logged) == {"redis": 1, "archive": 10}


def test_append_archive_trim_on_standalone_and_cluster(
    data_plane: Any, settings_env: Any, sql_url: str
) -> None:
    """The stream, the watermark and the trim script share the {audit} slot on a cluster."""
    settings_env.setenv("AUDIT_MAX_EVENTS", "5")
    settings_env.setenv("AUDIT_TRIM_BATCH", "7")
    reset_settings()
    logged = append_many(data_plane, 30)
    logged.append(audit.log_event("admin.x", "root", {"password": "p"}))
    _drain(data_plane)
    assert assert_conserved(data_plane, logged) == {"redis": 5, "archive": 31}
    assert data_plane.get(keys.audit_watermark()) == logged[-1].encode()
    assert verify_chain(get_engine()).ok


def test_each_crash_safe_step_is_announced_to_the_hooks(r: Any, sql_url: str) -> None:
    """The crash tests kill the worker from these hooks; a step never reached is never tested."""
    append_many(r, 3)
    reached: list[str] = []
    audit_archive.STEP_HOOKS.append(reached.append)
    try:
        _run(r)
    finally:
        audit_archive.STEP_HOOKS.remove(reached.append)
    assert reached == ["after_insert", "after_commit", "after_trim"]
