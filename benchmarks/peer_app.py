"""The two baselines of `benchmarks.chat_path`, each a uvicorn factory.

`constant_app`: `POST /chat` answers a constant JSON without reading the body (the floor of
one FastAPI request over the same HTTP bytes).

`peer_app`: what a FastAPI user assembles for a cached chat answer: slowapi (fixed window,
storage in the same Redis) keyed by the JWT subject (PyJWT HS256 decode), then one
`redis.asyncio` GET of the answer cached under an md5 of the model and message; a miss runs
the demo responder and SETs the answer. Configured from the environment: REDIS_URL,
JWT_SECRET, PEER_RATE_LIMIT (a slowapi limit string).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import jwt
import redis.asyncio
from fastapi import FastAPI, HTTPException, Request
from pydantic import BaseModel
from slowapi import Limiter, _rate_limit_exceeded_handler
from slowapi.errors import RateLimitExceeded

from shared.responder import demo_responder


class ChatRequest(BaseModel):
    message: str
    model: str = "demo"


def constant_app() -> FastAPI:
    app = FastAPI()

    @app.post("/chat")
    async def chat() -> dict[str, Any]:
        return {"reply": "constant", "model": "demo", "usage": {"prompt_tokens": 0}}

    return app


def _subject(request: Request) -> str:
    """slowapi's key function: the verified JWT subject (kept on the request for the route)."""
    _, _, token = request.headers.get("authorization", "").partition(" ")
    try:
        claims = jwt.decode(token, os.environ["JWT_SECRET"], algorithms=["HS256"])
    except jwt.InvalidTokenError:
        raise HTTPException(401, "invalid token") from None
    request.state.subject = claims["sub"]
    return str(claims["sub"])


def peer_app() -> FastAPI:
    url = os.environ["REDIS_URL"]
    limiter = Limiter(key_func=_subject, storage_uri=url, strategy="fixed-window")
    cache = redis.asyncio.Redis.from_url(url)
    app = FastAPI()
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]

    @app.post("/chat")  # slowapi's decorator needs the `request` parameter
    @limiter.limit(os.environ.get("PEER_RATE_LIMIT", "10000000/minute"))
    async def chat(request: Request, body: ChatRequest) -> dict[str, Any]:  # noqa: ARG001
        digest = hashlib.md5(f"{body.model}:{body.message}".encode()).hexdigest()
        key = f"peer:answer:{digest}"
        cached = await cache.get(key)
        if cached is not None:
            return json.loads(cached)  # type: ignore[no-any-return]
        reply = demo_responder(body.message, body.model)
        answer = {
            "reply": reply.text,
            "model": body.model,
            "usage": {
                "prompt_tokens": reply.prompt_tokens,
                "completion_tokens": reply.completion_tokens,
            },
        }
        await cache.set(key, json.dumps(answer), ex=3600)
        return answer

    return app
