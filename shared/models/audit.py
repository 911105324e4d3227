"""The audit archive: events keyed by stream id and hash-chained, its state, and checkpoints.

`audit_events.hash` = SHA-256(previous row's hash + canonical JSON of the row), in stream-id order
(`ms`, `seq`); the first row chains from the newest checkpoint's hash (or 64 zeros). Retention
deletes the oldest rows and leaves an `audit_checkpoints` row carrying the hash of the last deleted
row, so the surviving chain still verifies. `audit_state` (one row per region) holds the archive
watermark, written in the same transaction as the rows, plus the last verification.

Regions sharing one SQL database each keep a chain of their own: rows, checkpoints and state
carry the region, and every archive, purge and verification reads and writes only this region's.
"""

from __future__ import annotations

import threading
import weakref
from typing import cast

from sqlalchemy import BigInteger, Boolean, Engine, Float, Index, Integer, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base
from shared.settings import get_settings

GENESIS_HASH = "0" * 64
# The `audit_state` row of the default region (`local`): the name every archive had before
# regions; another region's row is named after the region.
STATE_NAME = "main"


def region() -> str:
    """This deployment's REGION: each region archives, purges and verifies only its own chain."""
    return get_settings().regions.region


def state_name() -> str:
    """This region's `audit_state` row: watermark, chain head and last verification."""
    here = region()
    return STATE_NAME if here == "local" else here


class AuditEventRow(Base):
    __tablename__ = "audit_events"

    # Stream ids are unique only within one region's stream: the key is (region, stream_id).
    region: Mapped[str] = mapped_column(String(32), primary_key=True, server_default="local")
    stream_id: Mapped[str] = mapped_column(String(41), primary_key=True)
    ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    event_type: Mapped[str] = mapped_column(String(160), nullable=False)
    actor: Mapped[str] = mapped_column(String(160), nullable=False)
    details: Mapped[str] = mapped_column(Text, nullable=False)
    ip: Mapped[str | None] = mapped_column(String(96))
    correlation_id: Mapped[str | None] = mapped_column(String(160))
    result: Mapped[str | None] = mapped_column(String(160))
    hash: Mapped[str] = mapped_column(String(64), nullable=False)

    __table_args__ = (
        Index("ix_audit_events_order", "region", "ms", "seq", unique=True),
        Index("ix_audit_events_actor", "actor", "ms"),
        Index("ix_audit_events_type", "event_type", "ms"),
    )


class AuditStateRow(Base):
    __tablename__ = "audit_state"

    name: Mapped[str] = mapped_column(String(16), primary_key=True)
    watermark_id: Mapped[str] = mapped_column(String(41), nullable=False)
    watermark_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    watermark_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    head_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    archived_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    purged_total: Mapped[int] = mapped_column(BigInteger, nullable=False)
    verified_at: Mapped[float | None] = mapped_column(Float)
    verified_ok: Mapped[bool | None] = mapped_column(Boolean)
    verified_rows: Mapped[int | None] = mapped_column(BigInteger)
    broken_id: Mapped[str | None] = mapped_column(String(41))
    broken_reason: Mapped[str | None] = mapped_column(String(200))


class AuditCheckpointRow(Base):
    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    through_id: Mapped[str] = mapped_column(String(41), nullable=False)
    through_ms: Mapped[int] = mapped_column(BigInteger, nullable=False)
    through_seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    deleted: Mapped[int] = mapped_column(BigInteger, nullable=False)
    region: Mapped[str] = mapped_column(String(32), nullable=False, server_default="local")
    created_at: Mapped[float] = mapped_column(Float, nullable=False)


# The Core tables, typed as such (the ORM declares `__table__` as a plain FromClause).
EVENTS = cast(Table, AuditEventRow.__table__)
STATE = cast(Table, AuditStateRow.__table__)
CHECKPOINTS = cast(Table, AuditCheckpointRow.__table__)

_ready: weakref.WeakSet[Engine] = weakref.WeakSet()
_ready_lock = threading.Lock()


def ensure_tables(engine: Engine) -> Engine:
    """Create the audit tables on `engine` if missing, once per engine (request paths and the
    health probe call this; Alembic owns the schema in production). Returns the engine."""
    if engine not in _ready:
        with _ready_lock:
            Base.metadata.create_all(engine, tables=[EVENTS, STATE, CHECKPOINTS])
            _ready.add(engine)
    return engine
