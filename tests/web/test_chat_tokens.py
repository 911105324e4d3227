"""Token budgets on /chat: an answer from the cache used no model tokens, so it costs none."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from shared.responder import Reply

BIG_COMPLETION = 250


def big_responder(message: str, model: str) -> Reply:
    """A responder whose answers are expensive enough to see in the token budget."""
    return Reply(text=f"answer to {message}", prompt_tokens=0, completion_tokens=BIG_COMPLETION)


def _tokens_left(headers: object) -> int:
    field = headers["ratelimit"]  # type: ignore[index]
    match = re.search(r'"?tokens[^;,]*;r=(\d+)', field)
    assert match, field
    return int(match.group(1))


@pytest.fixture
def token_budget(settings_env: pytest.MonkeyPatch) -> None:
    from shared.settings import reset_settings  # noqa: PLC0415

    settings_env.setenv("TOKEN_LIMIT_PER_MINUTE", "1000")
    settings_env.setenv("TOKEN_ESTIMATE_COMPLETION", str(BIG_COMPLETION))
    settings_env.setenv("CHAT_RESPONDER", f"{__name__}:big_responder")
    reset_settings()


def test_a_cache_hit_refunds_its_whole_token_reservation(
    token_budget: None, client: TestClient
) -> None:
    miss = client.post("/chat", json={"message": "what is a token budget"})
    hit = client.post("/chat", json={"message": "What is a token budget?"})
    again = client.post("/chat", json={"message": "what is a TOKEN budget"})
    assert [x.headers["X-Cache"] for x in (miss, hit, again)] == ["miss", "hit", "hit"]
    # Each header shows the budget left after that request's own reservation. The miss settled
    # 250 tokens; had the hit been charged its cached usage too, `again` would see 250 fewer
    # than `hit` did. Refill over the test's fraction of a second is a few tokens at most.
    assert _tokens_left(again.headers) >= _tokens_left(hit.headers) - 20
    assert _tokens_left(hit.headers) <= 1000 - BIG_COMPLETION
