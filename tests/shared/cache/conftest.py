"""Helpers of the cache tests: an asyncio client on the test Redis and a counting responder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from shared.responder import Reply


class Counting:
    """An async generate() that counts its calls and can be held until released."""

    def __init__(self, text: str = "generated answer") -> None:
        self.calls = 0
        self.text = text

    async def __call__(self) -> Reply:
        self.calls += 1
        return Reply(self.text, 2, 3)


@pytest.fixture
def run_async() -> Callable[[Callable[[Any], Awaitable[Any]]], Any]:
    """Run `fn(client)` on a fresh event loop with a fresh asyncio client (closed after)."""
    import asyncio  # noqa: PLC0415

    from shared.redis_client import build_async_client  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    def run(fn: Callable[[Any], Awaitable[Any]]) -> Any:
        async def main() -> Any:
            client = build_async_client(get_settings().conn)
            try:
                return await fn(client)
            finally:
                await client.aclose()

        return asyncio.run(main())

    return run
