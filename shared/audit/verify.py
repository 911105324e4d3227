"""Verify the audit archive's hash chain and record the outcome; report the first broken link.

The walk starts from the newest retention checkpoint (or the genesis hash), recomputes every
row's hash in stream-id order in keyset-paginated batches, and ends by comparing the last hash
with the head recorded in `audit_state`: an altered row breaks at itself, a deleted row breaks at
its successor, deleted newest rows break at the head.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, tuple_, update

from shared.audit.chain import chain_hash
from shared.models.audit import CHECKPOINTS, EVENTS, GENESIS_HASH, STATE, region, state_name

_EVENTS = EVENTS
_STATE = STATE
_CHECKPOINTS = CHECKPOINTS


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    rows: int
    broken_id: str | None = None
    reason: str | None = None
    checkpoint_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _checkpoint(conn: Connection) -> tuple[int | None, str, tuple[int, int]]:
    row = (
        conn.execute(
            select(_CHECKPOINTS)
            .where(_CHECKPOINTS.c.region == region())
            .order_by(_CHECKPOINTS.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None, GENESIS_HASH, (-1, -1)
    return row["id"], row["hash"], (row["through_ms"], row["through_seq"])


def _walk(conn: Connection, batch: int) -> VerifyReport:
    state = conn.execute(select(_STATE).where(_STATE.c.name == state_name())).mappings().first()
    checkpoint_id, prev, after = _checkpoint(conn)
    here = region()
    if state is None:
        mine = select(_EVENTS.c.stream_id).where(_EVENTS.c.region == here).limit(1)
        empty = conn.execute(mine).first() is None
        return VerifyReport(empty, 0, None, None if empty else "rows exist without audit state")
    head = (state["watermark_ms"], state["watermark_seq"])
    order = tuple_(_EVENTS.c.ms, _EVENTS.c.seq)
    rows = 0
    while True:
        page = (
            conn.execute(
                select(_EVENTS)
                .where(_EVENTS.c.region == here)
                .where(order > tuple_(*after))  # type: ignore[operator]
                .where(order <= tuple_(*head))  # type: ignore[operator]
                .order_by(_EVENTS.c.ms, _EVENTS.c.seq)
                .limit(batch)
            )
            .mappings()
            .all()
        )
        for row in page:
            expected = chain_hash(prev, dict(row))
            if expected != row["hash"]:
                reason = "hash mismatch: this row was altered, or the row before it deleted"
                return VerifyReport(False, rows, row["stream_id"], reason, checkpoint_id)
            prev = expected
            rows += 1
        if len(page) < batch:
            break
        after = (page[-1]["ms"], page[-1]["seq"])
    if prev != state["head_hash"]:
        reason = "chain ends before the recorded head: the newest rows were deleted or altered"
        return VerifyReport(False, rows, state["watermark_id"], reason, checkpoint_id)
    return VerifyReport(True, rows, checkpoint_id=checkpoint_id)


def verify_chain(engine: Engine, *, batch: int = 10000) -> VerifyReport:
    """Recompute the whole chain (read only); the first broken link, if any, is reported.

    A purge that commits during the walk can make rows vanish under it; a failure is therefore
    re-checked once when the newest checkpoint changed meanwhile.
    """
    for _ in range(2):
        with engine.connect() as plain:
            # One snapshot for the whole walk where the database offers it.
            conn = (
                plain.execution_options(isolation_level="REPEATABLE READ")
                if plain.dialect.name == "postgresql"
                else plain
            )
            report = _walk(conn, batch)
            conn.rollback()
        if report.ok:
            return report
        with engine.connect() as conn:
            if _checkpoint(conn)[0] == report.checkpoint_id:
                return report
    return report


def record(engine: Engine, report: VerifyReport, now: float | None = None) -> None:
    """Store the outcome of a verification on the audit state row (no-op before any archive)."""
    with engine.begin() as conn:
        conn.execute(
            update(_STATE)
            .where(_STATE.c.name == state_name())
            .values(
                verified_at=time.time() if now is None else now,
                verified_ok=report.ok,
                verified_rows=report.rows,
                broken_id=report.broken_id,
                broken_reason=(report.reason or "")[:200] or None,
            )
        )


def last_verification(engine: Engine) -> dict[str, Any] | None:
    """The recorded outcome of the last verification, or None when none ran yet."""
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(
                    _STATE.c.verified_at,
                    _STATE.c.verified_ok,
                    _STATE.c.verified_rows,
                    _STATE.c.broken_id,
                    _STATE.c.broken_reason,
                ).where(_STATE.c.name == state_name())
            )
            .mappings()
            .first()
        )
    if row is None or row["verified_at"] is None:
        return None
    return dict(row)
