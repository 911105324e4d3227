"""Warmup through the provider adapter: bounded concurrency, and a 429 makes the run wait."""

from __future__ import annotations

import orjson
import pytest
import redis

from shared import keys
from shared.cache import warmup
from shared.cache.store import read_stats
from shared.normalize import normalize_query, query_hash
from shared.responder import get_chat_model
from shared.settings import get_settings, reset_settings
from tests.fixtures.openai_server import Provider

QUESTIONS = [f"warm question number {i}" for i in range(10)]


def _popular(r: redis.Redis, model: str) -> None:
    for i, text in enumerate(QUESTIONS):
        normalized = normalize_query(text)
        qhash = query_hash(normalized)
        r.set(keys.cache_query_text(qhash), orjson.dumps({"text": normalized, "model": model}))
        r.zadd(keys.popularity(), {qhash: float(i)})


def _run(r: redis.Redis) -> dict[str, object]:
    settings = get_settings()
    return warmup.run(r, get_chat_model(settings.web.responder), settings)


def test_warmup_generates_through_the_provider_with_bounded_concurrency(
    provider: Provider, r: redis.Redis, sql_url: str, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("CACHE_WARMUP_CONCURRENCY", "3")
    reset_settings()
    _popular(r, "slow")
    report = _run(r)
    assert report["generated"] == len(QUESTIONS)
    assert report["failed"] == 0
    assert len(provider.calls) == len(QUESTIONS)
    assert provider.most_in_flight == 3  # concurrent, and never beyond the setting
    assert read_stats(r) == {}  # warmup stores without counting lookups


def test_warmup_waits_out_a_429_before_calling_again(
    provider: Provider, r: redis.Redis, sql_url: str, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("CACHE_WARMUP_CONCURRENCY", "1")  # one call at a time: a clear order
    reset_settings()
    _popular(r, "m1")
    provider.throttle_next = 1
    report = _run(r)
    assert report["generated"] == len(QUESTIONS)
    assert report["failed"] == 0  # the refused question was retried, not dropped
    timeline = sorted(provider.timeline)
    assert [status for _, _, status in timeline].count(429) == 1
    assert timeline[0][2] == 429
    # The next call came only after the provider's Retry-After: 1.
    assert timeline[1][0] - timeline[0][1] >= 0.9
