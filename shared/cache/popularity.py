"""Which questions are popular: analytics' decayed ZSET, else our hit counters, else SQL history.

The analytics rollup maintains `P {an}:popularity` (member = query hash, decayed score). Until it
has data, warmup falls back to the cache's own hit counters (`P cache:hits`, decayed here on
each warmup run), and on a cold start (empty Redis) to the `query_popularity` table that every
warmup run upserts, so the history outlives Redis.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

import orjson
from redis.typing import ZSetRangeResponse
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shared import keys
from shared.db import get_engine, session_scope
from shared.models.cache import QueryPopularity
from shared.pipeline import AnyPipeline, execute_chunked
from shared.redis_client import RedisClient, zset_scored

HITS_DECAY = 0.5  # per warmup run: a hit counts half as much one interval later
HITS_KEEP = 10_000


@dataclass(frozen=True)
class Popular:
    qhash: str
    score: float
    text: str | None = None
    model: str | None = None


def _members(reply: ZSetRangeResponse) -> list[Popular]:
    rows = zset_scored(reply)
    return [Popular(m.decode() if isinstance(m, bytes) else str(m), float(s)) for m, s in rows]


def _queue_text(pipe: AnyPipeline, p: Popular) -> None:
    pipe.get(keys.cache_query_text(p.qhash))


def top_queries(client: RedisClient, n: int) -> tuple[str, list[Popular]]:
    """(source, the `n` most popular queries with their text where known)."""
    source, found = "analytics", _members(client.zrevrange(keys.popularity(), 0, n - 1, True))
    if not found:
        source, found = "hits", _members(client.zrevrange(keys.cache_hits(), 0, n - 1, True))
    if not found:
        return "sql", read_history(n)
    texts = execute_chunked(client, found, _queue_text)
    missing = [q.qhash for q, raw in zip(found, texts, strict=True) if raw is None]
    history = {p.qhash: p for p in read_history_of(missing)} if missing else {}
    out = []
    for q, raw in zip(found, texts, strict=True):
        if raw is not None:
            doc = orjson.loads(raw)
            out.append(Popular(q.qhash, q.score, str(doc["text"]), str(doc["model"])))
        elif q.qhash in history:
            out.append(Popular(q.qhash, q.score, history[q.qhash].text, history[q.qhash].model))
        else:
            out.append(q)
    return source, out


def decay_hits(client: RedisClient) -> None:
    """Halve our own hit counters and keep the top HITS_KEEP (one MULTI/EXEC)."""
    with client.pipeline(transaction=True) as pipe:
        pipe.zunionstore(keys.cache_hits(), {keys.cache_hits(): HITS_DECAY})
        pipe.zremrangebyrank(keys.cache_hits(), 0, -HITS_KEEP - 1)
        pipe.execute()


def read_history(n: int) -> list[Popular]:
    """The `n` most popular queries recorded in SQL by earlier warmups."""
    stmt = select(QueryPopularity).order_by(QueryPopularity.score.desc()).limit(n)
    with session_scope() as session:
        return [Popular(r.qhash, r.score, r.text, r.model) for r in session.scalars(stmt)]


def read_history_of(qhashes: list[str]) -> list[Popular]:
    stmt = select(QueryPopularity).where(QueryPopularity.qhash.in_(qhashes))
    with session_scope() as session:
        return [Popular(r.qhash, r.score, r.text, r.model) for r in session.scalars(stmt)]


def record_history(popular: Iterable[Popular], now: float | None = None) -> int:
    """Upsert the queries with known text into `query_popularity` (one executemany)."""
    at = time.time() if now is None else now
    rows = [
        {"qhash": p.qhash, "text": p.text, "model": p.model, "score": p.score, "updated_at": at}
        for p in popular
        if p.text is not None and p.model is not None
    ]
    if not rows:
        return 0
    insert = pg_insert if get_engine().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(QueryPopularity)
    stmt = stmt.on_conflict_do_update(
        index_elements=[QueryPopularity.qhash],
        set_={
            "text": stmt.excluded.text,
            "model": stmt.excluded.model,
            "score": stmt.excluded.score,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    with session_scope() as session:
        session.execute(stmt, rows)
    return len(rows)
