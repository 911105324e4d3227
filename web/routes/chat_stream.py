"""POST /chat/stream: the guards and cache of /chat, the answer as server-sent events.

Each event is one `data:` line of JSON: `{"delta": str}` per piece of text, then exactly one
`{"done": true, "usage": {...}, "cache": "hit" | "miss" | "stale"}`, or, when something fails
after the stream started, `{"error": {"type", "message"}}` instead of `done`.

The reply is filled by a task running the same `cached_reply` as /chat (hit, stale refresh,
single-flight miss); on a miss its generator relays the provider's pieces here as they come and
returns the whole answer, which the cache stores. The response starts only at the first piece
or when the reply is complete, so a refusal, a refused reservation or a provider that fails
before its first piece is the same JSON error as on /chat. A client that goes away cancels
the task, which stops the provider call; what it used is settled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from shared.analytics.events import queue_event
from shared.cache.serve import Served
from shared.provider.errors import ProviderError
from shared.responder import Piece, Reply, Usage, estimate_prompt_tokens, get_chat_model
from shared.settings import get_settings
from web import admission, provider_errors, write_behind
from web.auth import Caller
from web.chat_cache import cache_key, cached_reply
from web.deps import Redis
from web.refusal import Refusal
from web.routes.chat import ChatRequest, admit, failed
from web.write_behind import Write, WriteBehind

router = APIRouter(tags=["chat"])
_DONE = object()  # the fill task finished (answer or exception): put by its done-callback


class _Relay:
    """The pieces of a generation on their way from the fill task to the response."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[object] = asyncio.Queue()
        self.generated = False
        self.pieces = 0
        self.usage: Usage | None = None

    async def fill(self, pieces: AsyncIterator[Piece], message: str) -> Reply:
        self.generated = True
        parts: list[str] = []
        async for piece in pieces:
            if isinstance(piece, Usage):
                self.usage = piece
                continue
            parts.append(piece)
            self.pieces += 1
            self.queue.put_nowait(piece)
        usage = self.usage or Usage(estimate_prompt_tokens(message), self.pieces)
        return Reply("".join(parts), usage.prompt_tokens, usage.completion_tokens)

    def used_so_far(self, estimate: int) -> int:
        """Tokens to settle when the stream was cut short: the usage known so far (the
        provider's, else the prompt estimate plus one token per piece), else the estimate."""
        if self.usage is not None:
            return self.usage.prompt_tokens + self.usage.completion_tokens
        if self.pieces:
            return estimate - get_settings().guards.token_estimate_completion + self.pieces
        return estimate if self.generated else 0


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class EventStream(StreamingResponse):
    """Watches for the client going away whatever the server's ASGI version (Starlette only
    does under 2.4), so a disconnect cancels the provider call at once, not at its next piece."""

    media_type = "text/event-stream"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        async with anyio.create_task_group() as group:

            async def respond() -> None:
                await self.stream_response(send)
                group.cancel_scope.cancel()

            group.start_soon(respond)
            await self.listen_for_disconnect(receive)
            group.cancel_scope.cancel()


@dataclass
class _Answer:
    """The events of one admitted request, and the writes after them."""

    buffer: WriteBehind
    guarded: admission.Guarded
    event: dict[str, Any]
    started: float
    fill: asyncio.Task[Served]
    relay: _Relay
    estimate: int

    async def events(self, first: object) -> AsyncIterator[bytes]:
        item, ended = first, False
        try:
            while item is not _DONE:
                yield _sse({"delta": item})
                item = await self.relay.queue.get()
            # From here the answer is settled before its last event, which a client may not
            # wait for: the writes must not depend on the final send.
            ended = True
            if (exc := self.fill.exception()) is not None:
                yield self._failed(exc)
                return
            served = self.fill.result()
            reply = served.reply
            usage = {"prompt_tokens": reply.prompt_tokens}
            usage["completion_tokens"] = reply.completion_tokens
            self._served(served, usage)
            if not self.relay.generated and reply.text:  # from the cache: the stored answer
                yield _sse({"delta": reply.text})
            yield _sse({"done": True, "usage": usage, "cache": served.status})
        finally:
            if not ended:  # the client went away: stop the provider, settle what it used
                self.fill.cancel()
                self.guarded.finish(self.buffer, self.relay.used_so_far(self.estimate))

    def _failed(self, exc: BaseException) -> bytes:
        failed(self.buffer, self.guarded, self.event, self.started, exc)
        if isinstance(exc, ProviderError):
            provider_errors.count(exc)
            return _sse(provider_errors.event_error(exc))
        return _sse({"error": {"type": "internal", "message": "internal error"}})

    def _served(self, served: Served, usage: dict[str, int]) -> None:
        reply = served.reply
        used = 0 if served.status != "miss" else reply.prompt_tokens + reply.completion_tokens
        self.guarded.finish(self.buffer, used)
        event = {**self.event, "cache_hit": served.status != "miss", **usage}
        event["latency_ms"] = (time.perf_counter() - self.started) * 1000
        self.buffer.add(Write("event", queue=lambda pipe: queue_event(pipe, **event)))


def _retrieve(task: asyncio.Task[Served]) -> None:
    if not task.cancelled():
        task.exception()  # seen here, so a cancelled stream's failure is not logged as lost


@router.post("/chat/stream", response_model=None)
async def chat_stream(
    body: ChatRequest, who: Caller, redis: Redis, request: Request
) -> StreamingResponse:
    buffer = write_behind.of(request)
    key = cache_key(who, body.message, body.model)
    guarded = await admit(redis, who, body, key, request.app.state.mux)
    model = get_chat_model(get_settings().web.responder)
    relay = _Relay()
    estimate = admission.estimate_tokens(body.message)

    async def generate() -> Reply:
        await guarded.reserve(redis)
        return await relay.fill(model.stream(body.message, body.model), body.message)

    event: dict[str, Any] = {"user_id": who.identity, "model": body.model}
    event.update(message=body.message, session_id=body.session_id)
    started = time.perf_counter()
    fill = asyncio.create_task(
        cached_reply(redis, key, looked_up=guarded.looked_up, generate=generate, buffer=buffer)
    )
    fill.add_done_callback(lambda _: relay.queue.put_nowait(_DONE))
    fill.add_done_callback(_retrieve)
    try:
        first = await relay.queue.get()
    except BaseException:
        fill.cancel()
        raise
    if first is _DONE and (exc := fill.exception()) is not None:
        if isinstance(exc, Refusal):  # the reservation was refused: no model call was made
            exc.details.update(model=body.model, session_id=body.session_id)
        else:
            failed(buffer, guarded, event, started, exc)
        raise exc

    status = "miss" if first is not _DONE else fill.result().status
    headers = {**guarded.headers(), "X-Cache": status, "Cache-Control": "no-cache"}
    headers["X-Accel-Buffering"] = "no"  # nginx would otherwise hold the events back
    answer = _Answer(buffer, guarded, event, started, fill, relay, estimate)
    return EventStream(answer.events(first), headers=headers)
