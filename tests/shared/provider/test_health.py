"""The provider's health check against the local OpenAI-compatible server."""

from __future__ import annotations

import pytest
import redis

from embedded_redis import free_port
from shared.health import FAIL, PASS
from shared.provider import health
from shared.settings import get_settings, reset_settings
from tests.fixtures.openai_server import Provider


def test_a_reachable_provider_passes_with_its_response_time(
    provider: Provider, r: redis.Redis
) -> None:
    [check] = health.check(r, get_settings(), 0.0)
    assert (check.key, check.status, check.unit) == ("provider:responseTime", PASS, "ms")
    assert check.value is not None
    assert check.value >= 0


def test_an_unreachable_provider_fails(
    provider: Provider, r: redis.Redis, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    reset_settings()
    [check] = health.check(r, get_settings(), 0.0)
    assert check.status == FAIL
    assert "APIConnectionError" in (check.output or "")
    assert "sk-test" not in (check.output or "")  # the key never leaves in a report


def test_the_demo_responder_has_nothing_to_probe(r: redis.Redis) -> None:
    assert health.check(r, get_settings(), 0.0) == []
