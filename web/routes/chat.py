"""POST /chat: guards, response, event; the only heavy step is the responder call itself.

Round trips: step 1 is ONE Redis script call for every guard (rate limits, token reservation,
session check). Settling the token reservation runs after the response is sent.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from shared.analytics.events import append_event
from shared.responder import load_responder
from shared.settings import get_settings
from web import admission, audit_log
from web.auth import Caller
from web.chat_cache import cached_reply
from web.deps import Redis

router = APIRouter(tags=["chat"])


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=16_000)
    model: str = Field(default="demo", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    session_id: str | None = Field(default=None, min_length=1, max_length=128)


@router.post("/chat")
async def chat(  # noqa: PLR0917  (FastAPI injects by parameter)
    body: ChatRequest,
    who: Caller,
    redis: Redis,
    request: Request,
    response: Response,
    background: BackgroundTasks,
) -> dict[str, Any]:
    # 1. Guards: rate limits + token reservation + session check, one round trip (429/410/503).
    try:
        guarded = await admission.check_request(
            request,
            redis,
            who,
            session_id=body.session_id,
            model=body.model,
            tokens=admission.estimate_tokens(body.message),
        )
    except HTTPException as refused:
        # A refusal (429/410) is audited: one XADD, on the refusal path only, since the verdict
        # arrives with the guard script's reply (it cannot share that round trip); once per
        # refusal episode, so a flood of rejected requests cannot flood the audit trail.
        if refused.status_code in (410, 429):
            details = {"status": refused.status_code, "reason": refused.detail}
            details.update(model=body.model, session_id=body.session_id)
            retry_s = float((refused.headers or {}).get("Retry-After", 1))
            await audit_log.record_refusal(
                redis, request, who, "guard.rejected", details, retry_after_s=retry_s
            )
        raise
    guarded.apply(response)

    # 2. The reply: from the response cache (a hit is one MGET), else the configured responder
    #    (single-flight per key). `X-Cache: hit | stale | miss` says which.
    responder = load_responder(get_settings().web.responder)
    started = time.perf_counter()
    event: dict[str, Any] = {"user_id": who.identity, "model": body.model}
    event.update(message=body.message, session_id=body.session_id)
    try:
        served = await cached_reply(
            redis, who, body.message, body.model, background=background,
            generate=lambda: run_in_threadpool(responder, body.message, body.model),
        )  # fmt: skip
        reply = served.reply
    except Exception as exc:
        # The analytics event of a failed reply (one XADD) feeds the error rate, then re-raise.
        latency_ms = (time.perf_counter() - started) * 1000
        await append_event(
            redis, **event, prompt_tokens=0, completion_tokens=0, latency_ms=latency_ms,
            error=type(exc).__name__,
        )  # fmt: skip
        raise
    latency_ms = (time.perf_counter() - started) * 1000
    response.headers["X-Cache"] = served.status
    event["cache_hit"] = served.status != "miss"  # stale answers were served from the cache

    # 3. Settle the token reservation with the model tokens this request really used, after the
    #    response is sent: an answer from the cache used none (a stale one's refresh is charged
    #    to no caller), so its whole reservation is refunded.
    used = 0 if served.status in ("hit", "stale") else reply.prompt_tokens + reply.completion_tokens
    background.add_task(guarded.settle, redis, used)
    # 4. The analytics event: one XADD (MAXLEN ~), also after the response is sent. It cannot
    #    share a round trip with the settle above, a Lua script in the caller's {u:} slot.
    background.add_task(
        append_event, redis, **event, prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens, latency_ms=latency_ms,
    )  # fmt: skip

    return {
        "reply": reply.text,
        "model": body.model,
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
        },
    }
