"""Archive-before-trim: move audit events from the Redis stream into the SQL hash chain.

One batch, in this order (a crash between any two steps loses nothing and duplicates nothing):

1. read the SQL state (watermark W, head hash H), the only source of truth for progress;
2. XRANGE (W, +] COUNT batch from the stream;
3. in ONE SQL transaction: check no row lies beyond W, bulk `INSERT … ON CONFLICT DO NOTHING`
   the rows chained from H, and move the state to (W', H') only if it still says (W, H);
   commit. A crash before the commit leaves SQL as it was; the next run reads the same batch;
4. after the run's last commit, the `audit_trim` Lua script: mirror W' into Redis and trim up
   to W', keeping the newest AUDIT_MAX_EVENTS. A crash before it leaves archived events in
   Redis too: the next run trims them, and readers de-duplicate by stream id meanwhile.

The stream id is the primary key, so even a replayed insert can never add a second copy.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, tuple_, update

from shared import keys
from shared.audit.append import Event, parse_entry, parse_id
from shared.audit.chain import ROW_COLUMNS, chained_rows, insert_ignoring_duplicates
from shared.lua import script
from shared.models.audit import EVENTS, GENESIS_HASH, STATE, region, state_name
from shared.redis_client import RedisClient, stream_entries
from shared.settings import Settings

log = logging.getLogger(__name__)
_EVENTS = EVENTS
_STATE = STATE


class ArchiveConflictError(RuntimeError):
    """SQL moved under this run (another archiver, or rows beyond the watermark): rolled back."""


@dataclass(frozen=True)
class State:
    watermark_id: str
    head_hash: str
    archived_total: int
    purged_total: int

    @property
    def start(self) -> str:
        """The XRANGE start just after the watermark (`-` before the first archive)."""
        return "(" + self.watermark_id if self.watermark_id != "0-0" else "-"


def read_state(conn: Connection) -> State:
    """The archive state, created (watermark 0-0, genesis hash) on first use."""
    name = state_name()
    row = conn.execute(select(_STATE).where(_STATE.c.name == name)).mappings().first()
    if row is None:
        conn.execute(
            insert_state_stmt(conn),
            {
                "name": name,
                "watermark_id": "0-0",
                "watermark_ms": 0,
                "watermark_seq": 0,
                "head_hash": GENESIS_HASH,
                "archived_total": 0,
                "purged_total": 0,
            },
        )
        row = conn.execute(select(_STATE).where(_STATE.c.name == name)).mappings().one()
    return State(row["watermark_id"], row["head_hash"], row["archived_total"], row["purged_total"])


def insert_state_stmt(conn: Connection) -> Any:
    from sqlalchemy.dialects import postgresql, sqlite  # noqa: PLC0415

    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(_STATE).on_conflict_do_nothing(index_elements=["name"])


# Called with the step just reached ("after_insert", "after_commit", "after_trim"): the points
# between which a crash must lose and duplicate nothing. Empty in production; the crash tests
# install a hook that SIGKILLs the worker at one step.
STEP_HOOKS: list[Callable[[str], None]] = []


def _reached(step: str) -> None:
    for hook in STEP_HOOKS:
        hook(step)


def commit_batch(engine: Engine, events: list[Event], state: State) -> State:
    """Insert `events` chained from `state` and advance the state, in one transaction.

    Raises:
        ArchiveConflictError: rows exist beyond the watermark or the state moved (rolled back).
    """
    here = region()
    rows = chained_rows(events, state.head_hash, here)
    last = dict(zip(ROW_COLUMNS, rows[-1], strict=True))
    ms, seq = parse_id(state.watermark_id)
    with engine.begin() as conn:
        beyond = conn.execute(
            select(_EVENTS.c.stream_id)
            .where(_EVENTS.c.region == here)
            .where(tuple_(_EVENTS.c.ms, _EVENTS.c.seq) > tuple_(ms, seq))  # type: ignore[operator]
            .limit(1)
        ).first()
        if beyond is not None:
            raise ArchiveConflictError(
                f"row {beyond[0]} lies beyond watermark {state.watermark_id}"
            )
        insert_ignoring_duplicates(conn, _EVENTS, ROW_COLUMNS, rows)
        _reached("after_insert")
        moved = conn.execute(
            update(_STATE)
            .where(_STATE.c.name == state_name())
            .where(_STATE.c.watermark_id == state.watermark_id)
            .where(_STATE.c.head_hash == state.head_hash)
            .values(
                watermark_id=last["stream_id"],
                watermark_ms=last["ms"],
                watermark_seq=last["seq"],
                head_hash=last["hash"],
                archived_total=_STATE.c.archived_total + len(rows),
            )
        )
        if moved.rowcount != 1:
            raise ArchiveConflictError("audit state moved during this batch")
    _reached("after_commit")
    return State(
        last["stream_id"], last["hash"], state.archived_total + len(rows), state.purged_total
    )


def trim_redis(client: RedisClient, watermark_id: str, settings: Settings) -> int:
    """Mirror the committed watermark and trim the stream up to it (the `audit_trim` script).

    Keeps the newest AUDIT_MAX_EVENTS entries whatever their state. Each script call removes at
    most AUDIT_TRIM_BATCH entries (bounded Redis work per call); at most AUDIT_TRIM_MAX_BATCHES
    calls. Returns the entries removed.
    """
    audit = settings.audit
    trim = script(client, "audit_trim")
    removed = 0
    for _ in range(audit.trim_max_batches):
        n = int(
            trim(
                keys=[keys.audit_stream(), keys.audit_watermark()],
                args=[watermark_id, audit.max_events, audit.trim_batch],
            )
        )
        removed += n
        if n < audit.trim_batch:
            break
    return removed


@dataclass
class TrimResult:
    archived: int = 0
    trimmed: int = 0
    batches: int = 0
    watermark: str = "0-0"
    more: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def archive_and_trim(client: RedisClient, engine: Engine, settings: Settings) -> TrimResult:
    """Archive up to AUDIT_TRIM_MAX_BATCHES batches, then trim Redis up to the last commit.

    Redis: one XRANGE per batch, then `audit_trim` script calls of at most AUDIT_TRIM_BATCH
    removals each. SQL: one transaction per batch. Returns what was done; `more` says a backlog
    is left for the next run.
    """
    audit = settings.audit
    result = TrimResult()
    with engine.begin() as conn:
        state = read_state(conn)
    result.watermark = state.watermark_id
    for _ in range(audit.trim_max_batches):
        entries = stream_entries(
            client.xrange(keys.audit_stream(), min=state.start, count=audit.trim_batch)
        )
        if not entries:
            break
        events = [parse_entry(sid, fields) for sid, fields in entries]
        state = commit_batch(engine, events, state)
        result.archived += len(events)
        result.batches += 1
        result.watermark = state.watermark_id
        if len(entries) < audit.trim_batch:
            break
    else:
        result.more = True
    if state.watermark_id != "0-0":
        # Once per run, after every commit: trimming right after catching up takes the
        # script's fast path (XTRIM MAXLEN), and also finishes a trim a crash left undone.
        result.trimmed = trim_redis(client, state.watermark_id, settings)
        _reached("after_trim")
    return result
