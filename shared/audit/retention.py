"""Retention of the audit archive: delete the oldest rows in bounded batches, leaving checkpoints.

Each batch is one transaction: select the oldest AUDIT_PURGE_BATCH rows older than the cutoff,
delete them, and insert a checkpoint carrying the hash of the last deleted row, from which the
surviving chain continues to verify. A crash mid-batch rolls the whole batch back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, insert, select, tuple_, update

from shared.models.audit import CHECKPOINTS, EVENTS, STATE, region, state_name
from shared.settings import Settings

_EVENTS = EVENTS
_STATE = STATE
_CHECKPOINTS = CHECKPOINTS


@dataclass
class PurgeResult:
    deleted: int = 0
    batches: int = 0
    more: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def purge_batch(engine: Engine, cutoff_ms: int, batch: int, now: float) -> int:
    """Delete the oldest `batch` rows older than `cutoff_ms` and checkpoint; rows deleted."""
    order = tuple_(_EVENTS.c.ms, _EVENTS.c.seq)
    here = region()
    with engine.begin() as conn:
        oldest = conn.execute(
            select(_EVENTS.c.stream_id, _EVENTS.c.ms, _EVENTS.c.seq, _EVENTS.c.hash)
            .where(_EVENTS.c.region == here)
            .where(_EVENTS.c.ms < cutoff_ms)
            .order_by(_EVENTS.c.ms, _EVENTS.c.seq)
            .limit(batch)
        ).all()
        if not oldest:
            return 0
        last = oldest[-1]
        deleted = conn.execute(
            delete(_EVENTS)
            .where(_EVENTS.c.region == here)
            .where(order <= tuple_(last.ms, last.seq))  # type: ignore[operator]
        ).rowcount
        conn.execute(
            insert(_CHECKPOINTS).values(
                through_id=last.stream_id,
                through_ms=last.ms,
                through_seq=last.seq,
                hash=last.hash,
                deleted=deleted,
                region=here,
                created_at=now,
            )
        )
        conn.execute(
            update(_STATE)
            .where(_STATE.c.name == state_name())
            .values(purged_total=_STATE.c.purged_total + deleted)
        )
    return int(deleted)


def purge_expired(engine: Engine, settings: Settings, now: float | None = None) -> PurgeResult:
    """Delete archived events older than AUDIT_RETENTION_DAYS, at most AUDIT_PURGE_MAX_BATCHES
    batches of AUDIT_PURGE_BATCH rows; `more` says rows are left for the next run."""
    audit = settings.audit
    result = PurgeResult()
    if audit.retention_days <= 0:
        return result
    now = time.time() if now is None else now
    cutoff_ms = int((now - audit.retention_days * 86400) * 1000)
    for _ in range(audit.purge_max_batches):
        deleted = purge_batch(engine, cutoff_ms, audit.purge_batch, now)
        if deleted == 0:
            break
        result.deleted += deleted
        result.batches += 1
    else:
        result.more = True
    return result
