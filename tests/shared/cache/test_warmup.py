"""Warmup: popularity sources (analytics, own hits, SQL history), freshness, report."""

from __future__ import annotations

import time

import orjson
import redis

from shared import keys, snapshots
from shared.cache import warmup
from shared.cache.entry import CacheKey
from shared.cache.popularity import read_history
from shared.cache.store import store_reply
from shared.normalize import normalize_query, query_hash
from shared.responder import Reply, demo_responder
from shared.settings import get_settings

QUESTIONS = [f"How do I reset password number {i}?" for i in range(12)]


class Recorder:
    def __init__(self, fail_on: str | None = None) -> None:
        self.asked: list[str] = []
        self.fail_on = fail_on

    def __call__(self, message: str, model: str) -> Reply:
        self.asked.append(message)
        if self.fail_on is not None and self.fail_on in message:
            raise RuntimeError("responder failed")
        return demo_responder(message, model)


def _seen_live(r: redis.Redis, text: str, score: float, zset: str) -> str:
    """What a live miss and the analytics rollup leave behind for one question."""
    normalized = normalize_query(text)
    qhash = query_hash(normalized)
    r.set(keys.cache_query_text(qhash), orjson.dumps({"text": normalized, "model": "demo"}))
    r.zadd(zset, {qhash: score})
    return qhash


def _entry(text: str) -> str:
    return CacheKey.build(
        text, "demo", template_version=get_settings().cache.template_version
    ).entry


def test_warms_the_most_popular_missing_answers(r: redis.Redis, sql_url: str) -> None:
    for i, text in enumerate(QUESTIONS):
        _seen_live(r, text, float(i), keys.popularity())
    settings = get_settings()
    # The most popular question is already cached and fresh: it is left alone.
    key = CacheKey.build(QUESTIONS[-1], "demo", template_version=settings.cache.template_version)
    store_reply(
        r, key, Reply("fresh", 1, 1), source="live", now=time.time(), settings=settings.cache
    )
    responder = Recorder()

    report = warmup.run(r, responder, settings)

    assert report["source"] == "analytics"
    assert report["generated"] == len(QUESTIONS) - 1
    assert report["fresh"] == 1
    assert len(responder.asked) == len(QUESTIONS) - 1
    assert all(r.exists(_entry(q)) for q in QUESTIONS)
    snap = snapshots.read(r, warmup.SNAPSHOT_NAME)
    assert snap is not None
    assert snap.data["generated"] == len(QUESTIONS) - 1
    assert len(read_history(100)) == len(QUESTIONS)


def test_near_expiry_is_regenerated_and_failures_are_counted(r: redis.Redis, sql_url: str) -> None:
    settings = get_settings()
    cs = settings.cache
    for i, text in enumerate(QUESTIONS[:3]):
        _seen_live(r, text, float(i), keys.popularity())
    old = CacheKey.build(QUESTIONS[0], "demo", template_version=cs.template_version)
    store_reply(r, old, Reply("old", 1, 1), source="live", now=time.time(), settings=cs)
    r.pexpire(old.entry, int((cs.stale_ttl_s + 0.05 * cs.ttl_s) * 1000))  # 5% of soft TTL left

    report = warmup.run(r, Recorder(fail_on="number 1"), settings)

    assert report["generated"] == 2
    assert report["failed"] == 1
    assert r.pttl(old.entry) > (cs.stale_ttl_s + 0.5 * cs.ttl_s) * 1000


def test_falls_back_to_hit_counters_then_to_sql_history(r: redis.Redis, sql_url: str) -> None:
    settings = get_settings()
    for i, text in enumerate(QUESTIONS[:4]):
        _seen_live(r, text, float(i + 1), keys.cache_hits())
    report = warmup.run(r, Recorder(), settings)
    assert report["source"] == "hits"
    assert report["generated"] == 4
    # Our own counters decay on every run.
    assert r.zscore(keys.cache_hits(), query_hash(normalize_query(QUESTIONS[3]))) == 2.0

    r.flushdb()  # Redis lost everything: the history in SQL is the cold start
    responder = Recorder()
    report = warmup.run(r, responder, settings)
    assert report["source"] == "sql"
    assert report["generated"] == 4
    assert sorted(responder.asked) == sorted(normalize_query(q) for q in QUESTIONS[:4])
    assert all(r.exists(_entry(q)) for q in QUESTIONS[:4])


def test_popular_query_without_known_text_is_skipped(r: redis.Redis, sql_url: str) -> None:
    r.zadd(keys.popularity(), {"0" * 32: 5.0})
    report = warmup.run(r, Recorder(), get_settings())
    assert report["without_text"] == 1
    assert report["generated"] == 0
