"""The OpenAI adapter through the real `openai` client against the local compatible server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from shared.provider.errors import ProviderError
from shared.responder import ChatModel, Piece, Reply, Usage, get_chat_model
from shared.settings import get_settings, reset_settings
from tests.fixtures.openai_server import Provider, answer_words


def _model() -> ChatModel:
    return get_chat_model(get_settings().web.responder)


def _complete(message: str, model: str = "m1") -> Reply:
    async def go() -> Reply:
        chat = _model()
        try:
            return await chat.complete(message, model)
        finally:
            await chat.aclose()

    return asyncio.run(go())


def _stream(message: str, model: str = "m1") -> tuple[list[Piece], BaseException | None]:
    got: list[Piece] = []

    async def go() -> BaseException | None:
        chat = _model()
        pieces: AsyncIterator[Piece] = chat.stream(message, model)
        try:
            async for piece in pieces:
                got.append(piece)
        except ProviderError as exc:
            return exc
        finally:
            await chat.aclose()
        return None

    return got, asyncio.run(go())


def test_complete_returns_the_answer_and_the_providers_usage(provider: Provider) -> None:
    reply = _complete("what is redis")
    assert reply == Reply("Echo: what is redis", 3, 4)
    assert provider.calls[0]["model"] == "m1"  # the request's model, as given
    assert provider.calls[0]["messages"] == [{"role": "user", "content": "what is redis"}]


def test_stream_yields_text_pieces_then_the_real_usage(provider: Provider) -> None:
    pieces, failed = _stream("tell me about streams")
    assert failed is None
    texts = [p for p in pieces if isinstance(p, str)]
    assert "".join(texts) == " ".join(answer_words("tell me about streams"))
    assert len(texts) == 5  # one piece per chunk, as the provider sent them
    assert pieces[-1] == Usage(4, 5)
    assert provider.calls[0]["stream_options"] == {"include_usage": True}


def _fault(model: str) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        _complete("hello", model)
    return caught.value


def test_a_provider_429_is_rate_limited_with_its_retry_after(provider: Provider) -> None:
    failed = _fault("fault-429")
    assert (failed.kind, failed.status, failed.retry_after_header()) == ("rate_limited", 503, "7")


def test_a_provider_500_is_upstream_502(provider: Provider) -> None:
    failed = _fault("fault-500")
    assert (failed.kind, failed.status) == ("upstream", 502)
    assert len(provider.calls) == 1  # our bounds, not the client's retries


def test_a_stalled_stream_times_out_after_its_first_piece(
    provider: Provider, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("OPENAI_TIMEOUT", "0.3")
    reset_settings()
    get_chat_model.cache_clear()
    pieces, failed = _stream("hello", "fault-stall")
    assert pieces == ["Echo:"]
    assert isinstance(failed, ProviderError)
    assert (failed.kind, failed.status) == ("timeout", 504)


def test_a_malformed_chunk_is_a_502(provider: Provider) -> None:
    pieces, failed = _stream("hello", "fault-malformed")
    assert pieces == ["Echo:"]
    assert isinstance(failed, ProviderError)
    assert (failed.kind, failed.status) == ("malformed", 502)


def test_the_breaker_opens_after_consecutive_failures_and_stops_calling(
    provider: Provider, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("OPENAI_BREAKER_FAILURES", "3")
    settings_env.setenv("OPENAI_BREAKER_COOLDOWN", "30")
    reset_settings()
    get_chat_model.cache_clear()
    kinds = [_fault("fault-500").kind for _ in range(3)]
    opened = _fault("fault-500")
    assert kinds == ["upstream"] * 3
    assert (opened.kind, opened.status) == ("circuit_open", 503)
    assert int(opened.retry_after_header() or 0) > 25
    assert len(provider.calls) == 3  # the open circuit did not call the provider


def test_the_allow_list_refuses_other_models_without_a_call(
    provider: Provider, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("OPENAI_MODELS", "m1,m2")
    reset_settings()
    get_chat_model.cache_clear()
    assert _complete("hi", "m2").text == "Echo: hi"
    failed = _fault("gpt-x")
    assert (failed.kind, failed.status) == ("model_not_allowed", 422)
    assert [c["model"] for c in provider.calls] == ["m2"]


def test_without_an_api_key_openai_is_a_start_up_error(settings_env: pytest.MonkeyPatch) -> None:
    from shared.settings import SettingsError  # noqa: PLC0415

    settings_env.setenv("CHAT_RESPONDER", "openai")
    settings_env.delenv("OPENAI_API_KEY", raising=False)
    reset_settings()
    with pytest.raises(SettingsError, match="OPENAI_API_KEY"):
        get_settings()


def test_a_process_out_of_call_slots_sheds_instead_of_blaming_the_provider(
    provider: Provider, settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("OPENAI_MAX_CONCURRENCY", "1")
    settings_env.setenv("OPENAI_TIMEOUT", "0.3")
    settings_env.setenv("OPENAI_BREAKER_FAILURES", "1")
    reset_settings()
    get_chat_model.cache_clear()

    async def go() -> tuple[ProviderError, Reply]:
        chat = _model()
        held = chat.stream("hold the only slot", "fault-stall")
        try:
            assert await anext(held) == "Echo:"
            with pytest.raises(ProviderError) as shed:
                await chat.complete("second call", "m1")
        finally:
            await held.aclose()  # the slot is free again
        try:
            return shed.value, await chat.complete("third call", "m1")
        finally:
            await chat.aclose()

    shed, third = asyncio.run(go())
    assert (shed.kind, shed.status, shed.retry_after_header()) == ("saturated", 503, "1")
    assert third.text == "Echo: third call"  # the breaker (1 failure opens it) stayed closed
    assert [c["messages"][0]["content"] for c in provider.calls] == [
        "hold the only slot",
        "third call",
    ]
