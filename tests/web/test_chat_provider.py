"""/chat and /chat/stream with CHAT_RESPONDER=openai against the local OpenAI-compatible server."""

from __future__ import annotations

import gc
import inspect
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from fastapi.testclient import TestClient

from shared.responder import get_chat_model
from shared.settings import reset_settings
from tests.fixtures.openai_server import Provider
from tests.web.sse import parse_events, text_of

Start = Callable[..., TestClient]


@pytest.fixture
def start(provider: Provider, settings_env: pytest.MonkeyPatch) -> Iterator[Start]:
    """`start(OPENAI_TIMEOUT="0.3", ...)`: the app with these settings on top of the provider's
    (set before the app starts, so its lifespan closes the provider client it used)."""
    from web.app import create_app  # noqa: PLC0415

    with ExitStack() as stack:

        def make(**env: str) -> TestClient:
            for name, value in env.items():
                settings_env.setenv(name, value)
            reset_settings()
            get_chat_model.cache_clear()
            return stack.enter_context(TestClient(create_app(), raise_server_exceptions=False))

        yield make


@pytest.fixture
def app(start: Start) -> TestClient:
    return start()


def _metric(client: TestClient, kind: str) -> float:
    text = client.get("/metrics").text
    found = re.search(rf'chatbot_provider_errors_total{{kind="{kind}"}} ([0-9.]+)', text)
    return float(found.group(1)) if found else 0.0


def test_chat_answers_from_the_provider_with_its_usage_then_from_the_cache(
    app: TestClient, provider: Provider
) -> None:
    miss = app.post("/chat", json={"message": "what is redis", "model": "m1"})
    hit = app.post("/chat", json={"message": "What is Redis?", "model": "m1"})
    assert miss.status_code == hit.status_code == 200, miss.text
    assert miss.json()["reply"] == "Echo: what is redis"
    assert miss.json()["usage"] == {"prompt_tokens": 3, "completion_tokens": 4}
    assert [miss.headers["X-Cache"], hit.headers["X-Cache"]] == ["miss", "hit"]
    assert len(provider.calls) == 1


def test_stream_relays_the_providers_pieces_and_real_usage(
    app: TestClient, provider: Provider
) -> None:
    events = parse_events(app.post("/chat/stream", json={"message": "tell me more"}).text)
    assert [e["delta"] for e in events[:-1]] == ["Echo:", " tell", " me", " more"]
    assert events[-1] == {
        "done": True,
        "usage": {"prompt_tokens": 3, "completion_tokens": 4},
        "cache": "miss",
    }
    again = parse_events(app.post("/chat/stream", json={"message": "Tell me more!"}).text)
    assert text_of(again) == "Echo: tell me more"
    assert again[-1]["cache"] == "hit"
    assert len(provider.calls) == 1  # the hit streamed the stored answer
    assert provider.calls[0]["stream"] is True


@pytest.mark.parametrize(
    ("model", "status", "kind"),
    [("fault-429", 503, "rate_limited"), ("fault-500", 502, "upstream")],
)
def test_provider_failures_are_clear_json_errors_counted_on_metrics(
    app: TestClient, model: str, status: int, kind: str
) -> None:
    before = _metric(app, kind)  # the counters are the process's, across tests
    for path in ("/chat", "/chat/stream"):
        response = app.post(path, json={"message": "hello", "model": model})
        assert response.status_code == status, response.text
        assert response.json()["error"]["type"] == kind
    if kind == "rate_limited":
        assert response.headers["Retry-After"] == "7"  # the provider's own
    assert _metric(app, kind) == before + 2


def test_a_stall_before_any_piece_is_504(start: Start) -> None:
    app = start(OPENAI_TIMEOUT="0.3")
    response = app.post("/chat", json={"message": "hello", "model": "fault-stall"})
    assert response.status_code == 504
    assert response.json()["error"]["type"] == "timeout"


@pytest.mark.parametrize(
    ("model", "kind"), [("fault-stall", "timeout"), ("fault-malformed", "malformed")]
)
def test_a_failure_after_the_stream_started_ends_it_with_an_error_event(
    start: Start, model: str, kind: str
) -> None:
    app = start(OPENAI_TIMEOUT="0.3")
    before = _metric(app, kind)
    response = app.post("/chat/stream", json={"message": "hello", "model": model})
    assert response.status_code == 200
    events = parse_events(response.text)
    assert events[0] == {"delta": "Echo:"}
    assert events[-1]["error"]["type"] == kind
    assert "message" in events[-1]["error"]
    assert not any("done" in e for e in events)
    assert _metric(app, kind) == before + 1
    # Nothing was cached: the next request calls the provider again.
    again = app.post("/chat/stream", json={"message": "hello", "model": model})
    assert parse_events(again.text)[-1]["error"]["type"] == kind


def test_the_open_circuit_answers_503_without_calling_the_provider(
    start: Start, provider: Provider
) -> None:
    app = start(OPENAI_BREAKER_FAILURES="2")
    statuses = [
        app.post("/chat", json={"message": f"q{i}", "model": "fault-500"}).status_code
        for i in range(2)
    ]
    opened = app.post("/chat/stream", json={"message": "q3", "model": "fault-500"})
    assert statuses == [502, 502]
    assert opened.status_code == 503
    assert opened.json()["error"]["type"] == "circuit_open"
    assert int(opened.headers["Retry-After"]) >= 1
    assert len(provider.calls) == 2


def test_a_model_outside_the_allow_list_is_422_before_any_guard(
    start: Start, provider: Provider
) -> None:
    app = start(OPENAI_MODELS="m1")
    for path in ("/chat", "/chat/stream"):
        response = app.post(path, json={"message": "hi", "model": "m2"})
        assert response.status_code == 422
        assert response.json()["error"]["type"] == "model_not_allowed"
        assert "RateLimit" not in response.headers
    assert app.post("/chat", json={"message": "hi", "model": "m1"}).status_code == 200
    assert [c["model"] for c in provider.calls] == ["m1"]


def _live_stream_readers() -> int:
    # Without gc.collect(): what a reference cycle keeps alive is exactly what this counts.
    return sum(
        1
        for o in gc.get_objects()
        if inspect.isasyncgen(o) and o.__qualname__ == "Response.aiter_raw" and o.ag_frame
    )


@pytest.mark.parametrize("model", ["fault-stall", "fault-malformed"])
def test_a_failed_stream_leaves_no_reader_for_a_later_gc_pass(start: Start, model: str) -> None:
    """The failure's traceback must not keep the client's stream generators alive: collected
    later, after the app's loop closed, their finalizer fails ("Exception ignored")."""
    app = start(OPENAI_TIMEOUT="0.3")
    gc.collect()
    before = _live_stream_readers()
    response = app.post("/chat/stream", json={"message": "hello", "model": model})
    assert parse_events(response.text)[-1]["error"]["type"] in {"timeout", "malformed"}
    assert _live_stream_readers() == before
