"""POST /chat: guards, response, event; the only heavy step is the responder call itself."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from shared.responder import load_responder
from shared.settings import get_settings

router = APIRouter(tags=["chat"])


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=16_000)
    model: str = Field(default="demo", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
    session_id: str | None = Field(default=None, max_length=128)


@router.post("/chat")
async def chat(body: ChatRequest) -> dict[str, Any]:
    responder = load_responder(get_settings().web.responder)
    reply = await run_in_threadpool(responder, body.message, body.model)
    return {
        "reply": reply.text,
        "model": body.model,
        "usage": {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
        },
    }
