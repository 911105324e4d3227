"""Client-chosen model names cannot grow /metrics, the analytics summary or the token buckets."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
import redis
from fastapi.testclient import TestClient

from shared.analytics import rollup, series
from shared.settings import get_settings, reset_settings
from tests.web.conftest import drain


def _roll_up(r: redis.Redis) -> None:
    settings = get_settings()
    rollup.run(r, settings.analytics, consumer="test")
    series.write_snapshots(r, settings, extra={})


def test_three_hundred_invented_models_add_one_label(
    r: redis.Redis, token: Callable[..., str], settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.delenv("KNOWN_MODELS")  # the default list: the demo model only
    for name, value in {
        "RATE_LIMIT_REQUESTS": "10000",
        "TOKEN_LIMIT_PER_MINUTE": "1000000",
        "TOKEN_LIMIT_MODEL_PER_MINUTE": "1000000",
        "GUARD_REDIS_TIMEOUT": "5",
    }.items():
        settings_env.setenv(name, value)
    reset_settings()
    from web.app import create_app  # noqa: PLC0415

    headers = {"Authorization": f"Bearer {token(sub='alice')}"}
    with TestClient(create_app(), raise_server_exceptions=False) as client:

        def chat(model: str) -> None:
            body = {"message": "hello", "model": model}
            response = client.post("/chat", json=body, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json()["model"] == model  # the responder still got the real name

        chat("demo")
        chat("made-up-0")
        drain(client)  # the events leave with the write-behind, a few ms after the answers
        _roll_up(r)
        before = client.get("/metrics").text.splitlines()
        for i in range(1, 300):
            chat(f"made-up-{i}")
        drain(client)
        _roll_up(r)
        after = client.get("/metrics").text.splitlines()
        summary = client.get("/analytics/summary").json()

    assert summary["by_model"] == {"demo": 1, "other": 300}
    assert (
        set(summary["tokens_by_model"])
        == set(summary["latency_ms_by_model"])
        == {
            "demo",
            "other",
        }
    )
    assert not [line for line in after if "made-up" in line]
    # Only series labelled by model are in question; other counters may gain label sets
    # (a write-behind outcome, say) between the two scrapes.
    by_model = [line for line in after if 'model="' in line]
    assert by_model
    assert len(by_model) == len([line for line in before if 'model="' in line])


def test_invented_model_names_share_one_token_budget(
    token: Callable[..., str], settings_env: pytest.MonkeyPatch
) -> None:
    """Each new name used to open a fresh per-model bucket: a budget without end."""
    settings_env.delenv("KNOWN_MODELS")
    settings_env.setenv("TOKEN_LIMIT_PER_MINUTE", "0")
    settings_env.setenv("TOKEN_LIMIT_MODEL_PER_MINUTE", "1500")
    settings_env.setenv("GUARD_REDIS_TIMEOUT", "5")
    reset_settings()
    from web.app import create_app  # noqa: PLC0415

    # 3,000 characters reserve about 1,006 tokens and use about 640 (600 prompt words): the
    # second request of one bucket needs about 1,646 of its 1,500 (it refills 25 a second).
    message = "word " * 600
    headers = {"Authorization": f"Bearer {token(sub='alice')}"}
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        codes = [
            client.post("/chat", json={"message": message, "model": m}, headers=headers)
            for m in ("made-up-1", "made-up-2", "demo")
        ]
    assert [c.status_code for c in codes] == [200, 429, 200]
    assert "model_tokens" in codes[1].headers["RateLimit-Policy"]


def test_a_snapshot_an_older_rollup_wrote_still_gives_bounded_labels() -> None:
    from shared.snapshots import Snapshot  # noqa: PLC0415
    from web.gauges import summary_metrics  # noqa: PLC0415

    data = {
        "by_model": {"demo": 1, "made-up-1": 2, "made-up-2": 3},
        "tokens_by_model": {m: {"prompt": 1, "completion": 2} for m in ("demo", "made-up-1")},
        "latency_ms_by_model": {"demo": {"p50": 5.0}, "made-up-1": {"p50": 9.0}},
    }
    found = {
        metric.name: {tuple(s.labels.values()): s.value for s in metric.samples}
        for metric in summary_metrics(Snapshot(data, time.time(), 1))
    }
    assert found["chatbot_model_messages"] == {("demo",): 1.0, ("other",): 5.0}
    assert found["chatbot_model_tokens"][("other", "completion")] == 2.0
    assert found["chatbot_model_latency_ms"] == {("demo", "p50"): 5.0}
