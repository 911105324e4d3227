"""POST /chat: guards, response, event; the only heavy step is the responder call itself.

Round trips: a cache hit costs ONE (the guard script and the cache MGET, pipelined). A miss
adds the token reservation before its model call and the cache's fill marker and store. Every
write after the answer (the settle, the analytics event, the hit counters, refusal audits)
goes to the process's write-behind buffer, flushed as one pipeline per batch.

A fresh hit never reaches this route: `web.chat_lane` answers it in front of FastAPI with the
same steps (`admit`, `record`, `answer_body`). Every other request comes here, with the lane's
admission (or its refusal) in `request.state`, so no request is guarded twice.
"""

from __future__ import annotations

import time
from typing import Any, cast

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from shared.analytics.events import queue_event
from shared.cache.entry import CacheKey
from shared.provider.errors import ProviderError
from shared.redis_client import AsyncRedisClient
from shared.redis_mux import Multiplexer
from shared.responder import Reply, get_chat_model
from shared.settings import get_settings
from web import admission, provider_errors, write_behind
from web.auth import Caller, Principal
from web.chat_cache import cache_key, cached_reply
from web.deps import Redis
from web.refusal import Refusal
from web.write_behind import Write, WriteBehind

router = APIRouter(tags=["chat"])


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=16_000)
    model: str = Field(default="demo", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    session_id: str | None = Field(default=None, min_length=1, max_length=128)


ADMISSION = "chat_admission"  # request.state: the lane's Guarded, or what admit() raised


async def admit(
    redis: AsyncRedisClient,
    who: Principal,
    body: ChatRequest,
    key: CacheKey | None,
    mux: Multiplexer | None,
) -> admission.Guarded:
    """Guards (rate limits, a peek at the token budget, the session) and the cache lookup: one
    round trip. Raises Refusal (429/410, audited by its handler), ProviderError (422 for a
    model outside OPENAI_MODELS, before any charge) or a 503."""
    provider_errors.check_model(get_settings(), body.model)
    try:
        return await admission.check_request(
            redis, who, session_id=body.session_id, model=body.model,
            tokens=admission.estimate_tokens(body.message),
            lookup=key.read_keys() if key else None, mux=mux,
        )  # fmt: skip
    except Refusal as refused:
        refused.details.update(model=body.model, session_id=body.session_id)
        raise


def admitted(request: Request) -> admission.Guarded | None:
    """The admission the lane already made for this request (raising what it raised), if any."""
    outcome = request.scope.get("state", {}).pop(ADMISSION, None)
    if isinstance(outcome, BaseException):
        raise outcome
    return cast(admission.Guarded | None, outcome)


def record(
    buffer: WriteBehind,
    guarded: admission.Guarded,
    reply: Reply,
    event: dict[str, Any],
    *,
    hit: bool,
) -> None:
    """After the answer, buffered: the settle of a miss's reservation with the tokens it used
    (an answer from the cache reserved none) and the analytics event."""
    event["cache_hit"] = hit  # stale answers were served from the cache
    guarded.finish(buffer, 0 if hit else reply.prompt_tokens + reply.completion_tokens)
    event.update(prompt_tokens=reply.prompt_tokens, completion_tokens=reply.completion_tokens)
    buffer.add(Write("event", queue=lambda pipe: queue_event(pipe, **event)))


def answer_body(reply: Reply, model: str) -> dict[str, Any]:
    usage = {"prompt_tokens": reply.prompt_tokens, "completion_tokens": reply.completion_tokens}
    return {"reply": reply.text, "model": model, "usage": usage}


def failed(
    buffer: WriteBehind,
    guarded: admission.Guarded,
    event: dict[str, Any],
    started: float,
    exc: BaseException,
) -> None:
    """After a failed reply: settle what a failed provider call used, and the analytics event
    (it feeds the error rate)."""
    if isinstance(exc, ProviderError):
        estimate = admission.estimate_tokens(str(event["message"]))
        guarded.finish(buffer, provider_errors.tokens_used(exc, estimate))
    gone = {**event, "latency_ms": (time.perf_counter() - started) * 1000}
    gone.update(prompt_tokens=0, completion_tokens=0, error=type(exc).__name__)
    buffer.add(Write("event", queue=lambda pipe: queue_event(pipe, **gone)))


@router.post("/chat")
async def chat(
    body: ChatRequest, who: Caller, redis: Redis, request: Request, response: Response
) -> dict[str, Any]:
    buffer = write_behind.of(request)
    key = cache_key(who, body.message, body.model)
    # 1. Guards and the cache lookup: one round trip (made by the lane when it passed this on).
    guarded = admitted(request)
    if guarded is None:
        guarded = await admit(redis, who, body, key, request.app.state.mux)
    model = get_chat_model(get_settings().web.responder)

    async def generate() -> Reply:
        # Only a caller that really calls the model reserves its token estimate (round trip 2).
        await guarded.reserve(redis)
        return await model.complete(body.message, body.model)

    # 2. The reply: from the cache (the MGET above), else the responder (single-flight per key).
    #    `X-Cache: hit | stale | miss` says which.
    event: dict[str, Any] = {"user_id": who.identity, "model": body.model}
    event.update(message=body.message, session_id=body.session_id)
    started = time.perf_counter()
    try:
        served = await cached_reply(
            redis, key, looked_up=guarded.looked_up, generate=generate, buffer=buffer
        )
    except Refusal as refused:  # the reservation was refused: no model call was made
        refused.details.update(model=body.model, session_id=body.session_id)
        raise
    except Exception as exc:
        failed(buffer, guarded, event, started, exc)
        raise
    reply = served.reply
    event["latency_ms"] = (time.perf_counter() - started) * 1000
    guarded.apply(response)
    response.headers["X-Cache"] = served.status
    # 3. After the answer, buffered: the settle and the analytics event.
    record(buffer, guarded, reply, event, hit=served.status != "miss")
    return answer_body(reply, body.model)
