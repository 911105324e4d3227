"""The FastAPI app (`web.app:app`), served by `python -m web.serve` as the Procfile runs it.

The lifespan owns one asyncio Redis client per process; routes reach it through `web.deps`.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from starlette.types import ASGIApp

from shared.db import ensure_schema
from shared.redis_client import build_async_client, is_cluster
from shared.redis_mux import Multiplexer
from shared.responder import get_chat_model
from shared.settings import exit_on_bad_settings
from web import errors
from web.chat_lane import ChatLane
from web.loop_lag import LAG
from web.middleware import RequestLimits
from web.routes import (
    admin_audit,
    admin_cache,
    admin_tasks,
    analytics,
    chat,
    chat_stream,
    files,
    health,
    metrics,
    sessions,
)
from web.write_behind import WriteBehind

_GC_YOUNG = 10_000
ROUTERS = [
    admin_cache.router,
    admin_tasks.router,
    admin_audit.router,
    analytics.router,
    health.router,
    metrics.router,
    chat.router,
    chat_stream.router,
    files.router,
    sessions.router,
]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = exit_on_bad_settings()
    if settings.conn.db_auto_create:
        await run_in_threadpool(ensure_schema)
    chat_model = get_chat_model(settings.web.responder)  # a bad CHAT_RESPONDER fails at start
    app.state.redis = build_async_client(settings.conn)
    # Standalone Redis: the request path's round trips and the write-behind flushes share one
    # auto-pipelined connection. A cluster keeps redis-py's cluster client for everything.
    app.state.mux = None if is_cluster(app.state.redis) else Multiplexer(app.state.redis)
    app.state.write_behind = WriteBehind(app.state.redis, settings.web, app.state.mux)
    LAG.start()
    if settings.web.gc_freeze:
        freeze_startup_objects()
    try:
        yield
    finally:
        await LAG.stop()
        await chat_model.aclose()  # this loop's provider connections
        await app.state.write_behind.drain()  # buffered writes leave before the client closes
        if app.state.mux is not None:
            await app.state.mux.aclose()
        await app.state.redis.aclose()


def freeze_startup_objects() -> None:
    """Start-up objects (modules, settings, routes, compiled scripts) live as long as the
    process: leave them out of every later collection, and collect the young generation
    less often (CPython's default, 700 allocations, runs it several times per request)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(_GC_YOUNG, *gc.get_threshold()[1:])


class ChatbotAPI(FastAPI):
    def build_middleware_stack(self) -> ASGIApp:
        # The process's bounds first, then the cache-hit lane, both in front of FastAPI's own
        # middleware: a hit pays for none of it (the lane answers its own errors).
        return RequestLimits(ChatLane(super().build_middleware_stack()))


def create_app() -> FastAPI:
    exit_on_bad_settings()
    app = ChatbotAPI(title="chatbot worker suite", lifespan=lifespan)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    return app


app = create_app()
