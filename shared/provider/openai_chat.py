"""`CHAT_RESPONDER=openai`: the official `openai` async client against any compatible server.

One `AsyncOpenAI` per process and event loop, created on first use (an httpx pool belongs to
the loop that opened it: the web has one loop per process, a worker's warmup one per run).
Our bounds, not the client's: no client retries (a retry storm is the breaker's business),
OPENAI_TIMEOUT on the wait for a slot, the call and each stream chunk, OPENAI_MAX_CONCURRENCY
calls at once. Every failure leaves as `ProviderError`, and feeds the per-process breaker.
"""

from __future__ import annotations

import asyncio
import traceback
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import openai

from shared.provider.breaker import Breaker
from shared.provider.errors import ProviderError, parse_retry_after
from shared.responder import Piece, Reply, Usage, estimate_prompt_tokens
from shared.settings.provider import ProviderSettings

# Reading a chunk that is not a chat completion chunk (a provider's own shape, a cut frame).
_MALFORMED = (ValueError, AttributeError, TypeError, IndexError, KeyError)
_BREAKS_CIRCUIT = {"timeout", "upstream", "malformed"}


def as_provider_error(exc: BaseException) -> ProviderError:  # noqa: PLR0911  (the mapping table)
    """The kind of a failure of the client or of reading its answer."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.RateLimitError):
        wait = parse_retry_after(exc.response.headers.get("retry-after"))
        return ProviderError("rate_limited", "model provider rate limit", wait)
    if isinstance(exc, openai.APITimeoutError | TimeoutError):
        return ProviderError("timeout", "model provider timed out")
    if isinstance(exc, openai.APIStatusError):
        if exc.status_code >= 500:
            return ProviderError("upstream", f"model provider error {exc.status_code}")
        return ProviderError("rejected", f"model provider refused the call ({exc.status_code})")
    if isinstance(exc, openai.APIConnectionError):
        return ProviderError("upstream", "model provider unreachable")
    if isinstance(exc, (openai.APIError, *_MALFORMED)):
        return ProviderError("malformed", "malformed answer from the model provider")
    return ProviderError("upstream", f"model provider call failed ({type(exc).__name__})")


@dataclass
class _LoopState:
    client: openai.AsyncOpenAI
    slots: asyncio.Semaphore


class OpenAIChat:
    """The `ChatModel` of an OpenAI-compatible chat completions endpoint."""

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.breaker = Breaker(settings.breaker_failures, settings.breaker_cooldown_s)
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            s = self.settings
            client = openai.AsyncOpenAI(
                api_key=s.api_key, base_url=s.base_url, timeout=s.timeout_s, max_retries=0
            )
            state = self._loops[loop] = _LoopState(client, asyncio.Semaphore(s.max_concurrency))
        return state

    def _request(self, message: str, model: str) -> dict[str, Any]:
        if not self.settings.allows(model):
            raise ProviderError("model_not_allowed", f"model {model!r} is not offered here")
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": message}]}
        if self.settings.max_tokens:
            body["max_tokens"] = self.settings.max_tokens
        return body

    @asynccontextmanager
    async def _call(self) -> AsyncIterator[openai.AsyncOpenAI]:
        """A slot and the breaker's verdict around one call; every failure as ProviderError."""
        self.breaker.before()
        state = self._state()
        try:
            async with asyncio.timeout(self.settings.timeout_s):
                await state.slots.acquire()
        except TimeoutError:
            # Our own queue, not the provider: shed (503) rather than call it a provider timeout.
            self.breaker.neutral()
            raise ProviderError("saturated", "too many model calls in flight", 1.0) from None
        try:
            yield state.client
        except Exception as exc:
            failed = as_provider_error(exc)
            if failed.kind in _BREAKS_CIRCUIT:
                self.breaker.failure()
            else:
                self.breaker.neutral()
            _release_frames(exc)
            raise failed from exc
        except BaseException:  # cancelled, or the stream's reader went away
            self.breaker.neutral()
            raise
        else:
            self.breaker.success()
        finally:
            state.slots.release()

    async def complete(self, message: str, model: str) -> Reply:
        body = self._request(message, model)
        async with self._call() as client:
            async with asyncio.timeout(self.settings.timeout_s):
                answer = await client.chat.completions.create(**body)
            text = answer.choices[0].message.content or ""
            usage = answer.usage
        if usage is None:  # a server that reports no usage: settle the estimate
            return Reply(text, estimate_prompt_tokens(message), estimate_prompt_tokens(text))
        return Reply(text, usage.prompt_tokens, usage.completion_tokens)

    async def stream(self, message: str, model: str) -> AsyncIterator[Piece]:
        body = self._request(message, model)
        pieces = 0
        usage: Usage | None = None
        async with self._call() as client:
            async with asyncio.timeout(self.settings.timeout_s):
                chunks = await client.chat.completions.create(
                    **body, stream=True, stream_options={"include_usage": True}
                )
            try:
                reader = chunks.__aiter__()
                while True:
                    try:  # a stalled stream: no chunk within OPENAI_TIMEOUT
                        async with asyncio.timeout(self.settings.timeout_s):
                            chunk = await reader.__anext__()
                    except StopAsyncIteration:
                        break
                    if chunk.usage is not None:
                        usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices:
                        if choice.delta.content:
                            pieces += 1
                            yield choice.delta.content
            finally:
                await chunks.close()  # a consumer that stops early stops the provider too
        # Without a usage chunk (an older server): one token per piece is what we saw.
        yield usage or Usage(estimate_prompt_tokens(message), pieces)

    async def aclose(self) -> None:
        state = self._loops.pop(asyncio.get_running_loop(), None)
        if state is not None:
            await state.client.close()


def _release_frames(exc: BaseException) -> None:
    """Clear the locals of the finished frames in `exc`'s tracebacks (its causes included).

    A failed stream's frames hold the client's stream generators (httpx's `aiter_raw`); the
    error and its traceback form a cycle that keeps them alive until a later GC pass, which can
    come after the loop that must finalize them has closed ("Exception ignored" on exit).
    The traceback still prints: only the locals go.
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        traceback.clear_frames(current.__traceback__)
        pending += [current.__cause__, current.__context__]
