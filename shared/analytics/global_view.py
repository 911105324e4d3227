"""The global view of a multi-region deployment: every region's counters, summed from SQL.

Each region's rollup writes, on every run, its all-time totals (granularity `total`, start 0),
its open day bucket (with `unique_users` from the day's HyperLogLog) and that HyperLogLog's raw
registers to the one SQL database, under its REGION. The same run then reads every region's rows
back and stores the `analytics_global` snapshot, which `GET /analytics/summary?scope=global`
serves. So the view lags a region's traffic by at most that region's interval plus this
region's interval: two rollup intervals of the slowest region, open buckets included.

Distinct users do not add across regions (a user may chat in two): `unique_users` is the
PFCOUNT union of every region's registers, loaded into this region's Redis for one command.
A region with a count but no registers in SQL makes the figure a sum, and the snapshot then
says it is an upper bound.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from sqlalchemy import Engine, and_, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from shared import keys, snapshots
from shared.analytics import buckets
from shared.analytics.persist import upsert_rows
from shared.analytics.series import decode
from shared.models.analytics import AnalyticsBucket, AnalyticsHll
from shared.models_catalog import model_label
from shared.redis_client import RedisClient

GLOBAL = "analytics_global"
TOTAL = "total"
MERGE_TTL_MS = 60_000  # the copies live only for the union; the TTL only covers a crash


def persist_open(engine: Engine, client: RedisClient, region: str, now_s: float) -> int:
    """Upsert this region's all-time totals and open day bucket (one read, one transaction)."""
    day = buckets.start_of("day", now_s)
    with client.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.analytics_totals())
        pipe.hgetall(keys.analytics_bucket("day", day))
        pipe.pfcount(keys.analytics_hll("day", day))
        pipe.get(keys.analytics_hll("day", day))
        totals, day_fields, users, registers = pipe.execute()
    day_values = {**decode(day_fields), "unique_users": float(users)}
    rows = [
        {"granularity": gran, "bucket_start": start, "field": f, "value": v}
        for gran, start, fields in ((TOTAL, 0, decode(totals)), ("day", day, day_values))
        for f, v in fields.items()
    ]
    upsert_rows(engine, [{**row, "region": region, "updated_at": now_s} for row in rows])
    if registers:
        _upsert_registers(engine, region, day, bytes(registers), now_s)
    return len(rows)


def _upsert_registers(
    engine: Engine, region: str, day: int, registers: bytes, now_s: float
) -> None:
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(AnalyticsHll).values(
        region=region, granularity="day", bucket_start=day, registers=registers, updated_at=now_s
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["region", "granularity", "bucket_start"],
        set_={"registers": stmt.excluded.registers, "updated_at": stmt.excluded.updated_at},
    )
    with engine.begin() as conn:
        conn.execute(stmt)


def union_count(client: RedisClient, registers: dict[str, bytes]) -> int:
    """PFCOUNT of the union of every region's registers (copied in, counted, deleted)."""
    if not registers:
        return 0
    names = {region: keys.analytics_region_hll(region) for region in registers}
    with client.pipeline(transaction=False) as pipe:
        for region, raw in registers.items():
            pipe.set(names[region], raw, px=MERGE_TTL_MS)
        pipe.pfcount(*names.values())
        pipe.delete(*names.values())
        replies = pipe.execute()
    return int(replies[-2])


def build(engine: Engine, client: RedisClient, names: list[str], now_s: float) -> dict[str, Any]:
    """The global summary from every region's rows (two SELECTs, one Redis pipeline)."""
    t = AnalyticsBucket
    day = buckets.start_of("day", now_s)
    query = select(t.region, t.granularity, t.field, t.value, t.updated_at).where(
        or_(
            and_(t.granularity == TOTAL, t.bucket_start == 0),
            and_(t.granularity == "day", t.bucket_start == day, t.field == "unique_users"),
        )
    )
    h = AnalyticsHll
    hll_query = select(h.region, h.registers).where(h.granularity == "day", h.bucket_start == day)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
        registers = {region: bytes(raw) for region, raw in conn.execute(hll_query).all()}
    regions: dict[str, dict[str, Any]] = {
        name: {"messages_total": 0, "generated_at": None} for name in names
    }
    by_model: Counter[str] = Counter()
    counted_only = 0  # distinct users of regions whose registers are not in SQL
    for region, gran, field, value, updated_at in rows:
        entry = regions.setdefault(region, {"messages_total": 0, "generated_at": None})
        if gran == "day":
            if region not in registers:
                counted_only += int(value)
            continue
        entry["generated_at"] = max(entry["generated_at"] or 0.0, float(updated_at))
        if field == "msg":
            entry["messages_total"] = int(value)
        elif field.startswith("msg:m:"):
            by_model[model_label(field[len("msg:m:") :])] += int(value)
    return {
        "scope": "global",
        "messages_total": sum(r["messages_total"] for r in regions.values()),
        "unique_users": union_count(client, registers) + counted_only,
        "unique_users_is_upper_bound": counted_only > 0,
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
    view = build(engine, client, names, now_s)
    with client.pipeline(transaction=False) as pipe:
        snapshots.queue_write(pipe, GLOBAL, view, ttl_s=ttl_s, now=now_s)
        pipe.execute()
    return view
