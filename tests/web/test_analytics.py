"""The analytics endpoints, the chat event append and the /metrics gauges, through the app."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from shared import keys
from shared.analytics import detect, rollup, series
from shared.analytics.events import event_fields
from shared.normalize import normalize_query, query_hash
from shared.responder import Reply
from shared.settings import get_settings, reset_settings
from tests.web.conftest import drain


def boom(message: str, model: str) -> Reply:
    raise RuntimeError("the model provider is down")


def _roll_up(r: redis.Redis) -> None:
    settings = get_settings()
    rollup.run(r, settings.analytics, consumer="test")
    series.write_snapshots(r, settings, extra={})


def test_summary_before_any_rollup_is_empty_not_an_error(client: TestClient) -> None:
    body = client.get("/analytics/summary").json()
    assert (body["messages_total"], body["unique_users"], body["by_model"]) == (0, 0, {})
    assert body["generated_at"] is None
    assert body["stale"] is True


def test_chat_appends_one_event_and_the_rollup_counts_it(
    client: TestClient, r: redis.Redis, token: Callable[..., str]
) -> None:
    for user, model in (("alice", "demo"), ("bob", "demo"), ("alice", "small")):
        headers = {"Authorization": f"Bearer {token(sub=user)}"}
        response = client.post(
            "/chat", json={"message": "Hi there!", "model": model}, headers=headers
        )
        assert response.status_code == 200, response.text
    drain(client)  # the events leave through the write-behind buffer
    entries = r.xrange(keys.events_stream())
    assert len(entries) == 3
    first = orjson.loads(entries[0][1][b"e"])
    assert first["u"] == "user:alice"
    assert first["q"] == query_hash(normalize_query("Hi there!"))
    _roll_up(r)
    body = client.get("/analytics/summary").json()
    assert body["messages_total"] == 3
    assert body["unique_users"] == 2
    assert body["by_model"] == {"demo": 2, "small": 1}
    assert isinstance(body["generated_at"], float)
    assert body["stale"] is False
    assert r.zscore(keys.popularity(), query_hash(normalize_query("hi there"))) == pytest.approx(
        3, rel=0.01
    )


def test_a_failed_reply_is_an_error_event(
    client: TestClient, r: redis.Redis, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("CHAT_RESPONDER", "tests.web.test_analytics:boom")
    reset_settings()
    response = client.post("/chat", json={"message": "hello"})
    assert response.status_code == 500
    drain(client)
    [(_, fields)] = r.xrange(keys.events_stream())
    assert orjson.loads(fields[b"e"])["err"] == "RuntimeError"
    _roll_up(r)
    body = client.get("/analytics/summary").json()
    assert (body["errors_total"], body["error_rate"]) == (1, 1.0)


def test_timeseries(client: TestClient, r: redis.Redis) -> None:
    now_s = time.time()
    with r.pipeline(transaction=False) as pipe:
        for i in range(4):
            fields = event_fields(user_id=f"u{i}", model="demo", prompt_tokens=2,
                                  completion_tokens=3, latency_ms=50, cache_hit=i < 3)  # fmt: skip
            pipe.xadd(keys.events_stream(), fields)  # type: ignore[arg-type]
        pipe.execute()
    _roll_up(r)
    body = client.get("/analytics/timeseries", params={"metric": "messages"}).json()
    assert body["granularity"] == "minute"
    assert len(body["points"]) == get_settings().analytics.series_points
    assert sum(p["v"] for p in body["points"]) == 4  # robust to a minute turning over
    assert body["points"][-1]["t"] >= int(now_s) // 60 * 60
    since = int(now_s) // 3600 * 3600 - 3600  # this hour and the previous one
    hits = client.get(
        "/analytics/timeseries",
        params={"metric": "cache_hit_rate", "granularity": "hour", "since": since},
    ).json()
    assert [p["v"] for p in hits["points"] if p["v"] is not None] == [0.75]
    assert all(p["t"] >= since for p in hits["points"])
    tokens = client.get("/analytics/timeseries", params={"metric": "tokens", "granularity": "day"})
    assert sum(p["v"] for p in tokens.json()["points"]) == 20
    iso = client.get(
        "/analytics/timeseries", params={"metric": "messages", "since": "2000-01-01T00:00:00Z"}
    )
    assert iso.status_code == 200
    assert client.get("/analytics/timeseries", params={"metric": "nope"}).status_code == 400
    bad = client.get("/analytics/timeseries", params={"metric": "messages", "granularity": "week"})
    assert bad.status_code == 422
    assert (
        client.get(
            "/analytics/timeseries", params={"metric": "messages", "since": "yesterday"}
        ).status_code
        == 400
    )


def test_dashboard_is_self_contained(client: TestClient) -> None:
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "<script>" in html
    assert "setInterval(refresh" in html
    assert "src=" not in html  # no external script, style or image: nothing from a CDN
    assert "http://" not in html
    assert "https://" not in html


def test_metrics_exposes_aggregate_gauges_without_user_labels(
    client: TestClient, r: redis.Redis
) -> None:
    with r.pipeline(transaction=False) as pipe:
        fields = event_fields(user_id="secret-user", model="demo", prompt_tokens=1,
                              completion_tokens=1, latency_ms=10)  # fmt: skip
        pipe.xadd(keys.events_stream(), fields)  # type: ignore[arg-type]
        pipe.execute()
    _roll_up(r)
    detect.detect(r, get_settings())
    text = client.get("/metrics").text
    assert 'chatbot_model_messages{model="demo"} 1.0' in text
    assert "chatbot_unique_users_today 1.0" in text
    assert "chatbot_anomaly_skipped 1.0" in text
    assert "secret-user" not in text
    assert 'user="' not in text
