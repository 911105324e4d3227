"""The hash chain of the audit archive: canonical row JSON, row hashes, SQL upserts.

hash(row) = SHA-256(previous hash as 64 hex characters + canonical JSON of the row), where the
canonical JSON has sorted keys, no whitespace, and the details kept as the exact JSON text that
was appended to the stream (so re-encoding can never change a hash).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite

from shared.audit import Event

CANONICAL_FIELDS = (
    "stream_id",
    "event_type",
    "actor",
    "details",
    "ip",
    "correlation_id",
    "result",
)


def canonical(row: dict[str, Any]) -> bytes:
    """The canonical JSON of an archive row (only the fields the chain covers)."""
    return orjson.dumps({k: row[k] for k in CANONICAL_FIELDS}, option=orjson.OPT_SORT_KEYS)


def chain_hash(prev_hash: str, row: dict[str, Any]) -> str:
    """SHA-256 hex of `prev_hash` followed by the canonical JSON of `row`."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(canonical(row))
    return digest.hexdigest()


def chained_rows(events: Sequence[Event], prev_hash: str) -> list[dict[str, Any]]:
    """Archive rows for `events` (in stream order), each hashed onto the one before."""
    rows = []
    for event in events:
        row: dict[str, Any] = {
            "stream_id": event.id,
            "ms": event.ms,
            "seq": event.seq,
            "event_type": event.event_type,
            "actor": event.actor,
            "details": event.details_json,
            "ip": event.ip,
            "correlation_id": event.correlation_id,
            "result": event.result,
        }
        prev_hash = row["hash"] = chain_hash(prev_hash, row)
        rows.append(row)
    return rows


def insert_ignoring_duplicates(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> int:
    """Bulk `INSERT … ON CONFLICT (primary key) DO NOTHING` (one executemany); rows inserted.

    Raises:
        NotImplementedError: a dialect other than SQLite or PostgreSQL.
    """
    if not rows:
        return 0
    name = conn.dialect.name
    if name == "postgresql":
        stmt: Any = postgresql.insert(table)
    elif name == "sqlite":
        stmt = sqlite.insert(table)
    else:
        raise NotImplementedError(f"audit archive supports sqlite and postgresql, not {name}")
    keys = [c.name for c in table.primary_key.columns]
    result = conn.execute(stmt.on_conflict_do_nothing(index_elements=keys), rows)
    return int(result.rowcount)
