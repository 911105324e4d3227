"""The global view of a multi-region deployment: every region's counters, summed from SQL.

Each region's rollup writes, on every run, its all-time totals (granularity `total`, start 0)
and its open day bucket (with `unique_users` from the day's HyperLogLog) to the one SQL
database, under its REGION. The same run then reads every region's rows back and stores the
`analytics_global` snapshot, which `GET /analytics/summary?scope=global` serves. So the view
lags a region's traffic by at most that region's interval plus this region's interval: two
rollup intervals of the slowest region, open buckets included.

Distinct users do not add across regions (a user may chat in two), and SQL keeps only each
region's count, not its HyperLogLog registers, so the global `unique_users` is the sum: an
upper bound, and the snapshot says so.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from sqlalchemy import Engine, and_, or_, select

from shared import keys, snapshots
from shared.analytics import buckets
from shared.analytics.persist import upsert_rows
from shared.analytics.series import decode
from shared.models.analytics import AnalyticsBucket
from shared.models_catalog import model_label
from shared.redis_client import RedisClient

GLOBAL = "analytics_global"
TOTAL = "total"


def persist_open(engine: Engine, client: RedisClient, region: str, now_s: float) -> int:
    """Upsert this region's all-time totals and open day bucket (one read, one transaction)."""
    day = buckets.start_of("day", now_s)
    with client.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.analytics_totals())
        pipe.hgetall(keys.analytics_bucket("day", day))
        pipe.pfcount(keys.analytics_hll("day", day))
        totals, day_fields, users = pipe.execute()
    day_values = {**decode(day_fields), "unique_users": float(users)}
    rows = [
        {"granularity": gran, "bucket_start": start, "field": f, "value": v}
        for gran, start, fields in ((TOTAL, 0, decode(totals)), ("day", day, day_values))
        for f, v in fields.items()
    ]
    upsert_rows(engine, [{**row, "region": region, "updated_at": now_s} for row in rows])
    return len(rows)


def build(engine: Engine, names: list[str], now_s: float) -> dict[str, Any]:
    """The global summary from every region's rows (one SELECT)."""
    t = AnalyticsBucket
    day = buckets.start_of("day", now_s)
    query = select(t.region, t.granularity, t.field, t.value, t.updated_at).where(
        or_(
            and_(t.granularity == TOTAL, t.bucket_start == 0),
            and_(t.granularity == "day", t.bucket_start == day, t.field == "unique_users"),
        )
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    regions: dict[str, dict[str, Any]] = {
        name: {"messages_total": 0, "generated_at": None} for name in names
    }
    by_model: Counter[str] = Counter()
    users = 0
    for region, gran, field, value, updated_at in rows:
        entry = regions.setdefault(region, {"messages_total": 0, "generated_at": None})
        if gran == "day":
            users += int(value)
            continue
        entry["generated_at"] = max(entry["generated_at"] or 0.0, float(updated_at))
        if field == "msg":
            entry["messages_total"] = int(value)
        elif field.startswith("msg:m:"):
            by_model[model_label(field[len("msg:m:") :])] += int(value)
    return {
        "scope": "global",
        "messages_total": sum(r["messages_total"] for r in regions.values()),
        "unique_users": users,
        "unique_users_is_upper_bound": len(regions) > 1,
        "by_model": dict(by_model),
        "regions": regions,
    }


def refresh(
    engine: Engine,
    client: RedisClient,
    *,
    region: str,
    names: list[str],
    ttl_s: float,
    now_s: float | None = None,
) -> dict[str, Any]:
    """Write this region's rows, read every region's, store the `analytics_global` snapshot."""
    now_s = time.time() if now_s is None else now_s
    persist_open(engine, client, region, now_s)
    view = build(engine, names, now_s)
    with client.pipeline(transaction=False) as pipe:
        snapshots.queue_write(pipe, GLOBAL, view, ttl_s=ttl_s, now=now_s)
        pipe.execute()
    return view
