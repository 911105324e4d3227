"""/chat/stream on the real web server (the Procfile's line) against the local provider:
a client that goes away stops the provider call; concurrent streams of one key fill once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import redis

from tests.fixtures.openai_server import Provider
from tests.fixtures.processes import wait_for
from tests.fixtures.web_server import WebServerFactory
from tests.web.sse import parse_events, text_of

LONG = " ".join(f"word{i}" for i in range(40))  # 41 chunks, 50 ms apart: a 2 s answer


def _env(provider: Provider) -> dict[str, str]:
    return {
        "CHAT_RESPONDER": "openai",
        "OPENAI_BASE_URL": provider.base_url,
        "OPENAI_API_KEY": "sk-test-not-a-secret",
        "OPENAI_TIMEOUT": "5",
        "WEB_WRITE_BEHIND_INTERVAL_MS": "5",
    }


def _reservations(r: redis.Redis) -> list[Any]:
    return list(r.scan_iter(match="*:res:*"))


def test_a_client_that_goes_away_stops_the_provider_and_settles(
    provider: Provider, web_server: WebServerFactory, r: redis.Redis
) -> None:
    server = web_server(env=_env(provider))
    body = {"message": LONG, "model": "slow"}
    with (
        httpx.Client(timeout=10) as http,
        http.stream("POST", f"{server.url}/chat/stream", json=body) as response,
    ):
        assert response.status_code == 200
        for line in response.iter_lines():
            if line.startswith("data: "):
                break  # one piece arrived: hang up
    wait_for(lambda: provider.cut_short == 1, timeout_s=5, what="the provider stream cut short")
    # The settle of what was used left through the write-behind buffer: no reservation is
    # left to hold the estimate until it expires.
    wait_for(lambda: not _reservations(r), timeout_s=5, what="the reservation settled")
    # The fill marker went with the cancelled generation: the next caller generates at once.
    again = httpx.post(f"{server.url}/chat/stream", json=body, timeout=10)
    events = parse_events(again.text)
    assert events[-1]["cache"] == "miss"
    assert text_of(events) == f"Echo: {LONG}"
    assert len(provider.calls) == 2


def test_concurrent_streams_of_one_question_call_the_provider_once(
    provider: Provider, web_server: WebServerFactory
) -> None:
    server = web_server(env=_env(provider))
    body = {"message": LONG, "model": "slow"}

    def ask(_: int) -> list[dict[str, Any]]:
        return parse_events(httpx.post(f"{server.url}/chat/stream", json=body, timeout=10).text)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, range(4)))
    assert {text_of(a) for a in answers} == {f"Echo: {LONG}"}
    assert sorted(a[-1]["cache"] for a in answers) == ["hit", "hit", "hit", "miss"]
    assert {str(a[-1]["usage"]) for a in answers} == {str(answers[0][-1]["usage"])}
    assert len(provider.calls) == 1
