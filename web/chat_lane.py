"""The cache-hit lane: a fresh cached answer to POST /chat, served in front of FastAPI.

A hit is the product's common case and its whole cost is Python in this process: routing,
dependency injection, request and response objects, exception middleware. The lane is a pure
ASGI middleware in front of FastAPI's whole stack (inside `RequestLimits`, so the in-flight
and body bounds still apply; an unexpected error is logged and answered 500 here) that does
the route's own steps with the route's own functions: the body is validated by the same
`ChatRequest` model, the caller comes from `web.auth.caller`, `routes.chat.admit` makes the
one round trip (guards + cache MGET), `routes.chat.record` buffers the same writes.

It answers only a fresh hit. Anything else goes on to the route unchanged, the body replayed:
a body, header or token the lane does not accept (the route answers the 422/401 as always),
a disabled cache, a stale entry or a miss. When the lane already ran the guards, the route
receives their outcome in `request.state` (the `Guarded`, or the refusal to raise), so no
request is charged twice.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import orjson
from fastapi import HTTPException
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.cache import serve
from shared.provider.errors import ProviderError
from web import auth
from web.chat_cache import cache_key, count_served
from web.middleware import reply
from web.refusal import Refusal
from web.routes.chat import ADMISSION, ChatRequest, admit, answer_body, record

log = logging.getLogger(__name__)
_JSON_TYPE = "application/json"
_JSON = _JSON_TYPE.encode()
Header = tuple[bytes, bytes]
_HEADERS = frozenset({b"content-type", b"authorization", b"x-forwarded-for"})


class ChatLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/chat" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client left, or RequestLimits refused the body (413 sent)
            return
        try:
            answer = await self._answer_hit(scope, body)
        except Exception:
            log.exception("unhandled error in the chat lane")
            await reply(send, 500, "internal error", [])
            return
        if answer is None:
            await self.app(scope, _replay(body, receive), send)
            return
        headers, payload = answer
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _answer_hit(self, scope: Scope, raw: bytes) -> tuple[list[Header], bytes] | None:
        """The headers and body of a fresh hit; None (with any admission in the state) for
        the route to answer."""
        headers: dict[bytes, str] = {}
        for name, value in scope["headers"]:
            if name in _HEADERS and name not in headers:  # the first, as Starlette reads it
                headers[name] = value.decode("latin-1")
        media_type = headers.get(b"content-type", "").partition(";")[0]
        if media_type.strip().lower() != _JSON_TYPE:
            return None  # FastAPI's own (strict) rules for anything else decide in the route
        try:
            body = ChatRequest.model_validate_json(raw)
            peer = scope["client"][0] if scope.get("client") else "unknown"
            address = auth.address_of(peer, headers.get(b"x-forwarded-for"))
            who = auth.caller(headers.get(b"authorization"), address)
        except (ValidationError, ValueError, HTTPException):
            return None
        state = scope.setdefault("state", {})
        state["principal"] = who  # what `web.auth.principal` returns for this request
        key = cache_key(who, body.message, body.model)
        if key is None:
            return None
        app_state = scope["app"].state
        started = time.perf_counter()
        try:
            guarded = await admit(app_state.redis, who, body, key, app_state.mux)
        except (Refusal, HTTPException, ProviderError) as exc:
            state[ADMISSION] = exc
            return None
        looked_up = guarded.looked_up
        verdict = None
        if isinstance(looked_up, list):
            verdict = serve.read(key, looked_up, time.time())[0]
        if verdict is None or verdict.status != "hit" or verdict.envelope is None:
            state[ADMISSION] = guarded
            return None
        served = serve.Served("hit", serve.reply_of(verdict.envelope), verdict.envelope)
        buffer = app_state.write_behind
        count_served(buffer, key, served)
        event: dict[str, Any] = {"user_id": who.identity, "model": body.model}
        event.update(message=body.message, session_id=body.session_id)
        event["latency_ms"] = (time.perf_counter() - started) * 1000
        record(buffer, guarded, served.reply, event, hit=True)
        payload = orjson.dumps(answer_body(served.reply, body.model))
        response_headers: list[Header] = [
            (b"content-length", str(len(payload)).encode()),
            (b"content-type", _JSON),
        ]
        for name, value in guarded.headers().items():
            response_headers.append((name.lower().encode("latin-1"), value.encode("latin-1")))
        response_headers.append((b"x-cache", b"hit"))
        return response_headers, payload


async def _read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the route: the body already read, then the client's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay
