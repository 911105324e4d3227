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

from shared.audit.append import Event

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


# Archive columns in the order `chained_rows` produces them.
ROW_COLUMNS = (
    "stream_id",
    "ms",
    "seq",
    "event_type",
    "actor",
    "details",
    "ip",
    "correlation_id",
    "result",
    "hash",
    "region",
)


def chained_rows(
    events: Sequence[Event], prev_hash: str, region: str = "local"
) -> list[tuple[Any, ...]]:
    """Archive rows (tuples in ROW_COLUMNS order) of one region's `events` in stream order,
    chained. The region is not hashed: it selects the chain a row belongs to.

    The hot loop of the archive: the dict below is built in sorted key order, so its JSON is
    byte for byte `canonical()` without the sort (a test pins the equality).
    """
    rows = []
    sha256, dumps = hashlib.sha256, orjson.dumps
    for e in events:
        body = dumps(
            {
                "actor": e.actor,
                "correlation_id": e.correlation_id,
                "details": e.details_json,
                "event_type": e.event_type,
                "ip": e.ip,
                "result": e.result,
                "stream_id": e.id,
            }
        )
        prev_hash = sha256(prev_hash.encode("ascii") + body).hexdigest()
        rows.append(
            (
                e.id,
                e.ms,
                e.seq,
                e.event_type,
                e.actor,
                e.details_json,
                e.ip,
                e.correlation_id,
                e.result,
                prev_hash,
                region,
            )
        )
    return rows


def insert_ignoring_duplicates(
    conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """Bulk `INSERT … ON CONFLICT (primary key) DO NOTHING`: one DBAPI executemany.

    Rows go to the driver as tuples (sqlite3's C loop, psycopg's pipelined executemany):
    SQLAlchemy's per-row parameter processing cost more than the insert itself here.

    Raises:
        NotImplementedError: a dialect other than SQLite or PostgreSQL.
    """
    if not rows:
        return
    name = conn.dialect.name
    if name not in {"sqlite", "postgresql"}:
        raise NotImplementedError(f"audit archive supports sqlite and postgresql, not {name}")
    if name == "postgresql":
        _copy_then_insert(conn, table, columns, rows)
        return
    keys = ", ".join(c.name for c in table.primary_key.columns)
    marks = ", ".join(["?"] * len(columns))
    sql = (
        f"INSERT INTO {table.name} ({', '.join(columns)}) "  # noqa: S608  (names from the model)
        f"VALUES ({marks}) ON CONFLICT ({keys}) DO NOTHING"
    )
    conn.exec_driver_sql(sql, rows)


def _copy_then_insert(
    conn: Connection, table: Table, columns: Sequence[str], rows: list[tuple[Any, ...]]
) -> None:
    """PostgreSQL: COPY into a transaction-scoped temporary table, then one INSERT … SELECT
    … ON CONFLICT DO NOTHING; several times the rows/s of executemany, in the same transaction."""
    stage = f"{table.name}_stage"
    cols = ", ".join(columns)
    keys = ", ".join(c.name for c in table.primary_key.columns)
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} "
        f"(LIKE {table.name} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
    )
    driver = conn.connection.driver_connection
    with (
        driver.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row(row)
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {stage} "  # noqa: S608
        f"ON CONFLICT ({keys}) DO NOTHING"
    )
    conn.exec_driver_sql(f"TRUNCATE {stage}")
