"""SQL persistence of closed buckets, the metrics stream, popularity decay and the lag check."""

from __future__ import annotations

import dataclasses
import time

import pytest
import redis
from sqlalchemy import select

from shared import keys
from shared.analytics import health as analytics_health
from shared.analytics import persist, popularity, rollup, series
from shared.analytics.metrics_stream import get_realtime_metrics, publish_metric
from shared.db import get_engine
from shared.models.analytics import AnalyticsBucket
from shared.settings import get_settings
from tests.shared.analytics.helpers import Ev, add_events

NOW_S = int(time.time())
MINUTE = NOW_S // 60 * 60 - 600  # ten minutes ago: closed, still retained


def _rows() -> dict[tuple[str, int, str], float]:
    with get_engine().connect() as conn:
        found = conn.execute(
            select(
                AnalyticsBucket.granularity,
                AnalyticsBucket.bucket_start,
                AnalyticsBucket.field,
                AnalyticsBucket.value,
            )
        ).all()
    return {(g, s, f): v for g, s, f, v in found}


def test_closed_buckets_are_upserted_idempotently(r: redis.Redis, sql_url: str) -> None:
    s = get_settings().analytics
    add_events(r, [Ev(MINUTE * 1000 + i, f"u{i % 3}", "demo") for i in range(5)])
    rollup.run(r, s, consumer="c")
    later = MINUTE + 2 * 86_400  # every granularity of that minute is closed by then
    assert persist.persist_closed(r, s, now_s=later) == 3
    rows = _rows()
    assert rows["minute", MINUTE, "msg"] == 5
    assert rows["minute", MINUTE, "active_sessions"] == 3
    assert rows["day", MINUTE // 86_400 * 86_400, "unique_users"] == 3
    assert rows["hour", MINUTE // 3600 * 3600, "msg:m:demo"] == 5
    # Nothing left to persist; re-marking (a crash before the ZREM) rewrites the same rows.
    assert persist.persist_closed(r, s, now_s=later) == 0
    r.zadd(keys.analytics_closing(), {f"minute:{MINUTE}": MINUTE + 60})
    assert persist.persist_closed(r, s, now_s=later) == 1
    assert _rows() == rows
    # A late event re-opens the bucket and the upsert carries the new total.
    add_events(r, [Ev(MINUTE * 1000 + 30_000, "late", "demo")])
    rollup.run(r, s, consumer="c")
    persist.persist_closed(r, s, now_s=later)
    assert _rows()["minute", MINUTE, "msg"] == 6


def test_open_buckets_wait_for_the_grace_period(r: redis.Redis, sql_url: str) -> None:
    s = get_settings().analytics
    add_events(r, [Ev(NOW_S * 1000, "u", "demo")])
    rollup.run(r, s, consumer="c")
    assert persist.persist_closed(r, s, now_s=NOW_S) == 0
    assert r.zcard(keys.analytics_closing()) == 3


def test_metrics_stream_window_and_rollup(r: redis.Redis) -> None:
    publish_metric(r, "queue.depth", 4.0, {"queue": "heavy"})
    publish_metric(r, "queue.depth", 8.0, {"queue": "heavy"})
    samples = get_realtime_metrics(r, 60)
    assert [(m.name, m.value, m.tags) for m in samples] == [
        ("queue.depth", 4.0, {"queue": "heavy"}),
        ("queue.depth", 8.0, {"queue": "heavy"}),
    ]
    assert get_realtime_metrics(r, 60, now=time.time() + 3600) == []
    with pytest.raises(ValueError, match="metric name"):
        publish_metric(r, "bad name", 1.0)
    with pytest.raises(ValueError, match="finite"):
        publish_metric(r, "x", float("nan"))
    r.xadd(keys.metrics_stream(), {"n": "x"})  # malformed: dead-lettered, never blocking
    report = rollup.run(r, get_settings().analytics, consumer="c")
    assert (report.metrics, report.dead) == (2, 1)
    summary = series.build_series(r, "minute", 5, time.time())
    assert summary["metrics"]["metric:queue.depth"][-1] == 6.0


def test_popularity_decays_by_half_life_and_is_trimmed(r: redis.Redis) -> None:
    s = dataclasses.replace(get_settings().analytics, popularity_half_life_s=10, popularity_max=2)
    t0 = 1_000_000_000_000
    popularity.decay(r, s, t0)
    r.zadd(keys.popularity(), {"a": 8.0, "b": 4.0, "c": 2.0})
    assert popularity.decay(r, s, t0 + 10_000_000) == pytest.approx(0.5)
    assert popularity.top(r, 5) == [("a", pytest.approx(4.0)), ("b", pytest.approx(2.0))]
    assert popularity.decay(r, s, t0 + 10_000_000) == 1.0  # same instant: no double decay


def test_stream_lag_check(r: redis.Redis) -> None:
    settings = get_settings()
    settings = dataclasses.replace(
        settings, analytics=dataclasses.replace(settings.analytics, lag_warn=3)
    )
    [check] = analytics_health.check(r, settings, time.time())
    assert (check.value, check.status) == (0, "pass")
    add_events(r, [Ev(NOW_S * 1000 + i, "u", "demo") for i in range(4)])
    [check] = analytics_health.check(r, settings, time.time())
    assert (check.key, check.value, check.status) == ("analytics:streamLag", 4, "warn")
    rollup.run(r, settings.analytics, consumer="c")
    [check] = analytics_health.check(r, settings, time.time())
    assert (check.value, check.status) == (0, "pass")
