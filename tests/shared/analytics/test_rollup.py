"""Conservation: every aggregate the rollup writes equals a naive recount of the events."""

from __future__ import annotations

import dataclasses
import time
from typing import Any
from unittest import mock

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import keys
from shared.analytics import histogram, rollup, series
from shared.analytics.events import parse
from shared.normalize import normalize_query, query_hash
from shared.settings import get_settings
from shared.settings.analytics import AnalyticsSettings
from tests.shared.analytics.helpers import Ev, add_events, nearest_rank, recount

DAY_S = 86_400
# Redis expires keys by its own clock, so the test times sit around the real now: events from an
# hour before today's UTC midnight over two hours (crossing it), judged at NOW_S.
BASE_S = int(time.time()) // DAY_S * DAY_S - 3600
NOW_S = max(time.time(), BASE_S + 3 * 3600)

events_strategy = st.lists(
    st.builds(
        lambda off, user, model, pt, ct, lat, hit, err, msg: (
            off,
            user,
            model,
            pt,
            ct,
            lat,
            hit,
            err,
            msg,
        ),
        st.integers(0, 2 * 3600 * 1000),
        st.sampled_from([f"user{i}" for i in range(12)] + ["ip:10.0.0.1", "weird {user}*"]),
        st.sampled_from(["gpt-4o", "llama3:8b", "demo"]),
        st.integers(0, 5000),
        st.integers(0, 5000),
        st.floats(0.0, 60_000.0),
        st.sampled_from([None, True, False]),
        st.sampled_from([None, None, "Timeout"]),
        st.sampled_from([None, "Hello world", "hello, WORLD!", "What is Redis?"]),
    ),
    min_size=1,
    max_size=120,
)


def _events(raw: list[tuple[Any, ...]]) -> list[Ev]:
    raw = sorted(raw, key=lambda e: e[0])
    return [
        Ev(BASE_S * 1000 + off, user, model, pt, ct, lat, hit, err, msg)
        for off, user, model, pt, ct, lat, hit, err, msg in raw
    ]


def _settings(**over: Any) -> AnalyticsSettings:
    return dataclasses.replace(get_settings().analytics, **over)


def _hgetall(r: redis.Redis, key: str) -> dict[str, float]:
    return series.decode(r.hgetall(key))


def check_conservation(r: redis.Redis, events: list[Ev]) -> None:
    want = recount(events)
    totals = _hgetall(r, keys.analytics_totals())
    assert totals["msg"] == want["messages_total"]
    assert {k[6:]: int(v) for k, v in totals.items() if k.startswith("msg:m:")} == want["by_model"]
    for model, (prompt, completion) in want["tokens"].items():
        assert totals[f"tok_p:{model}"] == prompt
        assert totals[f"tok_c:{model}"] == completion
    assert totals.get("err", 0) == want["errors"]
    assert totals.get("cache_lookup", 0) == want["cache_lookups"]
    assert totals.get("cache_hit", 0) == want["cache_hits"]
    for minute, n in want["per_minute"].items():
        assert _hgetall(r, keys.analytics_bucket("minute", minute))["msg"] == n
    for hour, n in want["per_hour"].items():
        assert _hgetall(r, keys.analytics_bucket("hour", hour))["msg"] == n
    days = {e.ts_ms // 1000 // DAY_S * DAY_S for e in events}
    assert sum(_hgetall(r, keys.analytics_bucket("day", d))["msg"] for d in days) == len(events)
    per_user: dict[str, float] = {}
    for day in days:
        for user, n in _hgetall(r, keys.analytics_user_counts(day)).items():
            per_user[user] = per_user.get(user, 0) + n
    assert per_user == {keys.safe_id(u): n for u, n in want["per_user"].items()}
    # HyperLogLog: Redis's sparse encoding is exact at this size; allow the 0.81 % std error.
    users_by_day: dict[int, set[str]] = {}
    for e in events:
        users_by_day.setdefault(e.ts_ms // 1000 // DAY_S * DAY_S, set()).add(e.user)
    for day, users in users_by_day.items():
        got = r.pfcount(keys.analytics_hll("day", day))
        assert abs(got - len(users)) <= max(1, 0.03 * len(users))
    hists = series.latency_hists(totals)
    for model, values in want["latencies"].items():
        for pct in histogram.PERCENTILES:
            exact = nearest_rank(values, pct)
            got = histogram.percentile(hists[model], pct)
            assert got is not None
            if exact >= 1.0:
                assert abs(got - exact) / exact <= histogram.RELATIVE_ERROR + 1e-9
            else:
                assert got == histogram.value_of(0)
    qhashes = {query_hash(normalize_query(e.message)) for e in events if e.message}
    assert {m.decode() for m in r.zrange(keys.popularity(), 0, -1)} == qhashes
    assert r.xpending(keys.events_stream(), rollup.GROUP)["pending"] == 0


def test_an_event_with_a_list_for_its_type_is_dead_lettered_not_fatal(r: redis.Redis) -> None:
    good = Ev(ts_ms=int(NOW_S * 1000) - 120_000, user="alice", model="m1")
    add_events(r, [good])
    r.xadd(keys.events_stream(), {"e": b'{"v":1,"t":[],"u":"bob","m":{},"pt":1,"ct":1,"lat":1}'})
    report = rollup.run(r, _settings(), consumer="c1", now=lambda: NOW_S)
    assert (report.events, report.dead) == (1, 1)
    [(_, dead)] = r.xrange(keys.events_dead_letter())
    assert dead[b"reason"] == b"invalid: field t"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=events_strategy, batch=st.integers(1, 50), junk=st.integers(0, 3))
def test_every_aggregate_equals_a_recount(
    r: redis.Redis, raw: list[tuple[Any, ...]], batch: int, junk: int
) -> None:
    r.flushdb()
    events = _events(raw)
    add_events(r, events)
    for i in range(junk):  # malformed entries never block the rest
        r.xadd(keys.events_stream(), {"v": "1", "garbage": str(i)})
    report = rollup.run(r, _settings(batch_size=batch), consumer="c1", now=lambda: NOW_S)
    assert (report.events, report.dead) == (len(events), junk)
    check_conservation(r, events)
    dead = r.xrange(keys.events_dead_letter())
    assert len(dead) == junk
    assert all(d[1][b"reason"].startswith(b"missing: ") for d in dead)
    # A second run finds nothing new and changes nothing.
    again = rollup.run(r, _settings(batch_size=batch), consumer="c1", now=lambda: NOW_S)
    assert again.events == again.dead == 0
    check_conservation(r, events)


def test_a_crash_between_aggregation_and_ack_loses_and_doubles_nothing(data_plane: Any) -> None:
    r = data_plane  # standalone and Redis Cluster
    events = [Ev(BASE_S * 1000 + i * 1000, f"u{i % 5}", "demo", message="hi") for i in range(50)]
    add_events(r, events)
    real_apply = rollup.apply
    calls = {"n": 0}

    def crash_on_third(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise ConnectionError("worker died before EXEC")
        real_apply(*args, **kwargs)

    s = _settings(batch_size=10, claim_idle_s=0.0)
    with mock.patch.object(rollup, "apply", crash_on_third), pytest.raises(ConnectionError):
        rollup.run(r, s, consumer="dead-worker", now=lambda: NOW_S)
    assert _hgetall(r, keys.analytics_totals())["msg"] == 20  # two batches committed
    assert r.xpending(keys.events_stream(), rollup.GROUP)["pending"] == 10  # the third in flight

    report = rollup.run(r, s, consumer="new-worker", now=lambda: NOW_S)
    assert report.reclaimed == 10
    assert report.events == 30
    check_conservation(r, events)


def test_entries_pending_with_a_live_consumer_are_not_reclaimed_early(r: redis.Redis) -> None:
    add_events(r, [Ev(BASE_S * 1000, "u", "demo")])
    rollup.ensure_group(r, keys.events_stream())
    r.xreadgroup(rollup.GROUP, "other", {keys.events_stream(): ">"})
    report = rollup.run(r, _settings(claim_idle_s=3600.0), consumer="me", now=lambda: NOW_S)
    assert report.reclaimed == report.events == 0
    assert r.xpending(keys.events_stream(), rollup.GROUP)["pending"] == 1


def test_events_older_than_retention_count_only_where_retained(r: redis.Redis) -> None:
    old_s = int(NOW_S) - 3 * DAY_S  # minute buckets (2 days) are gone, hours and days are kept
    add_events(r, [Ev(old_s * 1000, "u", "demo")])
    report = rollup.run(r, _settings(), consumer="c", now=lambda: NOW_S)
    assert report.expired == 1
    assert not r.exists(keys.analytics_bucket("minute", old_s // 60 * 60))
    assert _hgetall(r, keys.analytics_bucket("hour", old_s // 3600 * 3600))["msg"] == 1
    assert r.ttl(keys.analytics_bucket("hour", old_s // 3600 * 3600)) > 0


def test_parse_accepts_what_the_rollup_wrote_to_the_stream(r: redis.Redis) -> None:
    (entry_id,) = add_events(r, [Ev(BASE_S * 1000, "u", "demo", latency_ms=0.4)])
    [(_, fields)] = r.xrange(keys.events_stream())
    assert parse(entry_id, fields, max_bytes=4096).latency_ms == 0.4


def test_a_spent_time_budget_leaves_the_rest_for_the_next_run(r: redis.Redis) -> None:
    events = [Ev(BASE_S * 1000 + i, "u", "demo") for i in range(30)]
    add_events(r, events)
    s = _settings(batch_size=10)
    assert rollup.run(r, s, consumer="c", now=lambda: NOW_S, budget_s=-1).events == 0
    assert rollup.run(r, s, consumer="c", now=lambda: NOW_S).events == 30
    check_conservation(r, events)


def test_the_rollup_resumes_after_redis_lost_its_data(r: redis.Redis) -> None:
    add_events(r, [Ev(BASE_S * 1000, "u", "demo")])
    assert rollup.run(r, _settings(), consumer="c", now=lambda: NOW_S).events == 1
    r.flushdb()  # a Redis restart without persistence: stream, group and counters are gone
    events = [Ev(BASE_S * 1000 + i, "u", "demo") for i in range(1, 4)]
    add_events(r, events)
    assert rollup.run(r, _settings(), consumer="c", now=lambda: NOW_S).events == 3
    check_conservation(r, events)
