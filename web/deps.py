"""Per-app resources handed to the routes: the async Redis client."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from shared.redis_client import AsyncRedisClient


def redis(request: Request) -> AsyncRedisClient:
    return cast(AsyncRedisClient, request.app.state.redis)


Redis = Annotated[AsyncRedisClient, Depends(redis)]
