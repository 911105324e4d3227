"""Per-process bounds applied before routing: requests in flight and request body size.

Pure ASGI, outside FastAPI's routing: a refused request is answered before authentication,
before any body is parsed and before the guards spend a Redis round trip on it.

- In flight: beyond WEB_MAX_IN_FLIGHT concurrent requests a process answers 503 with
  `Retry-After` at once. A saturated event loop otherwise turns into queueing in front of the
  guards, whose Redis deadline would then expire for reasons that are not Redis.
- Body size: `Content-Length` above the limit gets 413 without reading the body; a chunked (or
  understated) body gets 413 as soon as the bytes received cross it, so a hostile body costs at
  most the limit in memory, whatever its length.
"""

from __future__ import annotations

from typing import Final

import orjson
from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.settings import Settings, get_settings
from web.errors import error_body
from web.metrics import REGISTRY
from web.routes.files import MULTIPART_SLACK_BYTES

# Probes and scrapes must answer while the process sheds load: that is when they matter most.
EXEMPT_PATHS: Final = frozenset({"/health", "/health/ready", "/health/advanced", "/metrics"})

SHED = Counter(
    "chatbot_web_shed",
    "Requests answered 503 because the process already had WEB_MAX_IN_FLIGHT in flight",
    registry=REGISTRY,
)
TOO_LARGE = Counter(
    "chatbot_web_body_too_large",
    "Requests answered 413 because their body exceeded the limit",
    registry=REGISTRY,
)


def body_limit(scope: Scope, settings: Settings) -> tuple[int, str]:
    """Uploads are bounded by the files setting (plus framing); every other body by the web one.

    Returns the limit in bytes and the message of the 413, which names the setting's value.
    """
    if scope["method"] == "POST" and scope["path"] == "/files":
        limit = settings.files.max_bytes
        return limit + MULTIPART_SLACK_BYTES, f"file exceeds the limit of {limit} bytes"
    limit = settings.web.max_body_bytes
    return limit, f"request body exceeds the limit of {limit} bytes"


def declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def reply(send: Send, status: int, message: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = orjson.dumps(error_body(status, message))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _BoundedBody:
    """`receive`/`send` for one request that refuse its body once it crosses `limit` bytes."""

    def __init__(self, receive: Receive, send: Send, limit: int, message: str) -> None:
        self._receive = receive
        self._send = send
        self.limit = limit
        self.message = message
        self.received = 0
        self.started = False
        self.refused = False

    async def receive(self) -> Message:
        if self.refused:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] != "http.request":
            return message
        self.received += len(message.get("body", b""))
        if self.received <= self.limit:
            return message
        self.refused = True
        TOO_LARGE.inc()
        if not self.started:
            await reply(self._send, 413, self.message, [(b"connection", b"close")])
        # The app sees the client leave: it stops reading, and what it answers is dropped below.
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class RequestLimits:
    """The in-flight bound and the body bound of one web process (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = get_settings()
        if scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= settings.web.max_in_flight:
            SHED.inc()
            await reply(send, 503, "server busy, retry shortly", [(b"retry-after", b"1")])
            return
        limit, message = body_limit(scope, settings)
        declared = declared_length(scope)
        if declared is not None and declared > limit:
            TOO_LARGE.inc()
            await reply(send, 413, message, [(b"connection", b"close")])
            return
        bounded = _BoundedBody(receive, send, limit, message)
        self.in_flight += 1
        try:
            await self.app(scope, bounded.receive, bounded.send)
        finally:
            self.in_flight -= 1
