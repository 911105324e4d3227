"""The provider's health check: can the workers reach the model server (`GET /models`)?

Only with CHAT_RESPONDER=openai (the demo and custom adapters have nothing to reach). The probe
lists the models, the cheapest call every OpenAI-compatible server answers, with the same
base URL and key as the chat calls and at most 5 s; a web process's circuit breaker is its own
and is seen on /metrics (`chatbot_provider_errors_total{kind="circuit_open"}`), not here.
"""

from __future__ import annotations

import time

import openai

from shared.health import FAIL, PASS, WARN, Check
from shared.redis_client import RedisClient
from shared.settings import Settings

KEY = "provider:responseTime"
PROBE_TIMEOUT_S = 5.0


def check(client: RedisClient, settings: Settings, now: float) -> list[Check]:
    """`provider:responseTime` of `GET /models`: fail when unreachable, timed out or 5xx; warn
    on another error status (reachable, but e.g. the key is refused)."""
    del client, now  # the provider is probed directly; no clock needed
    if settings.web.responder != "openai":
        return []
    s = settings.provider
    started = time.perf_counter()
    try:
        with openai.OpenAI(
            api_key=s.api_key, base_url=s.base_url,
            timeout=min(s.timeout_s, PROBE_TIMEOUT_S), max_retries=0,
        ) as sdk:  # fmt: skip
            sdk.models.list()
    except openai.APIStatusError as exc:
        status = WARN if exc.status_code < 500 else FAIL
        return [Check(KEY, None, "ms", status, f"GET /models answered {exc.status_code}")]
    except openai.APIError as exc:  # unreachable, timed out, not an OpenAI-compatible answer
        return [Check(KEY, None, "ms", FAIL, f"GET /models failed: {type(exc).__name__}")]
    return [Check(KEY, round((time.perf_counter() - started) * 1000, 1), "ms", PASS)]
