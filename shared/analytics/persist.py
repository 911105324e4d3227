"""Closed buckets to SQL: an idempotent upsert on (region, granularity, bucket_start, field).

The rollup records every bucket it touches in the `keys.analytics_closing()` ZSET (score = the
bucket's end). Once a bucket's end is older than ANALYTICS_CLOSE_GRACE, its whole hash is
upserted with the *current* values (never increments), then the member is removed. A crash
between the upsert and the ZREM only repeats the same upsert; a late event re-adds the member
and the next run rewrites the row with the new totals. The rollup is the only writer of the
buckets and runs under its run-lock, so nothing changes a bucket between the read and the ZREM.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import postgresql, sqlite

from shared import keys
from shared.analytics.series import decode
from shared.db import get_engine
from shared.models.analytics import AnalyticsBucket
from shared.redis_client import RedisClient, zset_members
from shared.settings import get_settings
from shared.settings.analytics import AnalyticsSettings

MAX_BUCKETS_PER_RUN = 500


def upsert_rows(engine: Engine, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO UPDATE (SQLite and PostgreSQL), executemany in one transaction."""
    if not rows:
        return
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(AnalyticsBucket)
    stmt = stmt.on_conflict_do_update(
        index_elements=["region", "granularity", "bucket_start", "field"],
        set_={"value": stmt.excluded.value, "updated_at": stmt.excluded.updated_at},
    )
    with engine.begin() as conn:
        conn.execute(stmt, rows)


def persist_closed(
    client: RedisClient, settings: AnalyticsSettings, *, now_s: float | None = None
) -> int:
    """Upsert every closed, touched bucket to SQL and forget it; returns the buckets written."""
    now_s = time.time() if now_s is None else now_s
    members = zset_members(
        client.zrangebyscore(
            keys.analytics_closing(), "-inf", now_s - settings.close_grace_s, 0, MAX_BUCKETS_PER_RUN
        )
    )
    if not members:
        return 0
    parsed = []
    for member in members:
        gran, _, start_s = member.decode().partition(":")
        parsed.append((gran, int(start_s)))
    # HLL-backed dimensions persisted with their bucket: distinct users per day, sessions per minute
    hll_field = {"day": "unique_users", "minute": "active_sessions"}
    with client.pipeline(transaction=False) as pipe:
        for gran, start in parsed:
            pipe.hgetall(keys.analytics_bucket(gran, start))
            if gran in hll_field:
                pipe.pfcount(keys.analytics_hll(gran, start))
        replies = iter(pipe.execute())
    rows: list[dict[str, Any]] = []
    for gran, start in parsed:
        fields = decode(next(replies))
        if gran in hll_field:
            fields[hll_field[gran]] = float(next(replies))
        rows += [
            {
                "granularity": gran,
                "bucket_start": start,
                "field": f,
                "value": v,
                "updated_at": now_s,
            }
            for f, v in fields.items()
        ]
    region = get_settings().regions.region
    upsert_rows(get_engine(), [{"region": region, **row} for row in rows])
    client.zrem(keys.analytics_closing(), *members)
    return len(parsed)
