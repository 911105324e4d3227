"""Per-app resources handed to the routes: the async Redis client."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from shared.redis_client import AsyncRedisClient


async def redis(request: Request) -> AsyncRedisClient:
    # async: FastAPI runs a plain `def` dependency in a thread pool, a hop per request.
    return cast(AsyncRedisClient, request.app.state.redis)


Redis = Annotated[AsyncRedisClient, Depends(redis)]
