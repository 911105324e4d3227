"""The global view: each region's rollup writes its open counters to SQL under its region, and
the summary of every region is their sum (unique users as the union of their HyperLogLogs)."""

from __future__ import annotations

import json
import time

import pytest
import redis
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from shared import snapshots
from shared.analytics import global_view, persist, rollup, series
from shared.db import get_engine
from shared.models.analytics import AnalyticsBucket, AnalyticsHll
from shared.settings import get_settings, reset_settings
from tests.shared.analytics.helpers import Ev, add_events

NOW_S = time.time()
NAMES = ["a", "b"]


def _region(settings_env: pytest.MonkeyPatch, name: str) -> None:
    brokers = {n: f"redis://127.0.0.1:1/{i}" for i, n in enumerate(NAMES)}
    settings_env.setenv("REGION", name)
    settings_env.setenv("REGION_BROKERS", json.dumps(brokers))
    reset_settings()


def _run_region(r: redis.Redis, region: str, events: list[Ev]) -> dict[str, object]:
    """One region's rollup on its own data plane (a flushed Redis stands for another region's)."""
    r.flushdb()
    add_events(r, events)
    rollup.run(r, get_settings().analytics, consumer="c")
    return global_view.refresh(get_engine(), r, region=region, names=NAMES, ttl_s=60, now_s=NOW_S)


def test_the_global_view_sums_every_region_from_sql(
    r: redis.Redis, sql_url: str, settings_env: pytest.MonkeyPatch
) -> None:
    ms = int(NOW_S * 1000)
    _region(settings_env, "a")
    view = _run_region(r, "a", [Ev(ms, "u1", "demo"), Ev(ms, "u2", "demo"), Ev(ms, "u1", "m1")])
    assert view["messages_total"] == 3
    assert view["regions"] == {
        "a": {"messages_total": 3, "generated_at": NOW_S},
        "b": {"messages_total": 0, "generated_at": None},
    }
    _region(settings_env, "b")
    view = _run_region(r, "b", [Ev(ms, "u1", "demo"), Ev(ms, "u3", "m2")])
    assert view["messages_total"] == 5
    assert view["by_model"] == {"demo": 3, "m1": 1, "m2": 1}
    # u1 chatted in both regions: the union of the HyperLogLogs counts u1 once.
    assert view["unique_users"] == 3
    assert view["unique_users_is_upper_bound"] is False
    assert view["regions"]["b"] == {"messages_total": 2, "generated_at": NOW_S}
    assert snapshots.read(r, global_view.GLOBAL) is not None
    assert list(r.scan_iter(match="*hll:region*")) == []  # the copies are gone

    # Without a's registers (a rollup of an older version wrote only its count) the figure
    # is the sum, and the view says it is an upper bound.
    with get_engine().begin() as conn:
        conn.execute(delete(AnalyticsHll).where(AnalyticsHll.region == "a"))
    view = global_view.build(get_engine(), r, NAMES, NOW_S)
    assert (view["unique_users"], view["unique_users_is_upper_bound"]) == (4, True)


def test_closed_buckets_of_two_regions_do_not_overwrite_each_other(
    r: redis.Redis, sql_url: str, settings_env: pytest.MonkeyPatch
) -> None:
    minute = int(NOW_S) // 60 * 60 - 600
    for region, n in (("a", 2), ("b", 5)):
        _region(settings_env, region)
        r.flushdb()
        add_events(r, [Ev(minute * 1000 + i, "u", "demo") for i in range(n)])
        rollup.run(r, get_settings().analytics, consumer="c")
        persist.persist_closed(r, get_settings().analytics, now_s=minute + 2 * 86_400)
    t = AnalyticsBucket
    query = select(t.region, t.value).where(
        t.granularity == "minute", t.bucket_start == minute, t.field == "msg"
    )
    with get_engine().connect() as conn:
        assert dict(conn.execute(query).all()) == {"a": 2.0, "b": 5.0}


def test_summary_scope_global(
    r: redis.Redis, sql_url: str, settings_env: pytest.MonkeyPatch
) -> None:
    from web.app import create_app  # noqa: PLC0415

    ms = int(time.time() * 1000)
    add_events(r, [Ev(ms, "u1", "demo"), Ev(ms, "u2", "demo")])
    rollup.run(r, get_settings().analytics, consumer="c")
    series.write_snapshots(r, get_settings(), extra={})
    with TestClient(create_app()) as client:
        region = client.get("/analytics/summary").json()
        single = client.get("/analytics/summary?scope=global").json()
        assert client.get("/analytics/summary?scope=world").status_code == 422
    assert "regions" not in region
    # One region: the global view is this region's own summary.
    assert single["messages_total"] == region["messages_total"] == 2
    assert single["regions"] == {
        "local": {"messages_total": 2, "generated_at": single["generated_at"]}
    }
    assert single["unique_users_is_upper_bound"] is False

    _region(settings_env, "a")
    global_view.refresh(get_engine(), r, region="a", names=NAMES, ttl_s=60)
    with TestClient(create_app()) as client:
        multi = client.get("/analytics/summary?scope=global").json()
    assert multi["messages_total"] == 2
    assert multi["regions"]["b"] == {"messages_total": 0, "generated_at": None}
    assert multi["stale"] is False
