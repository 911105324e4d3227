from __future__ import annotations

import asyncio

import pytest

from shared import snapshots
from shared.redis_client import build_async_client
from shared.settings import get_settings, reset_settings
from web import snapshot_cache


def _write(r, status: str) -> None:  # type: ignore[no-untyped-def]
    with r.pipeline() as pipe:
        snapshots.queue_write(pipe, "health", {"status": status}, ttl_s=60)
        pipe.execute()


def _read_twice_around(r, ttl: str, settings_env: pytest.MonkeyPatch) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    settings_env.setenv("WEB_SNAPSHOT_CACHE_TTL", ttl)
    reset_settings()
    snapshot_cache.clear()

    async def run() -> tuple[str, str]:
        client = build_async_client(get_settings().conn)
        try:
            _write(r, "pass")
            first = await snapshot_cache.read_snapshot(client, "health")
            _write(r, "fail")
            second = await snapshot_cache.read_snapshot(client, "health")
        finally:
            await client.aclose()
        assert first is not None
        assert second is not None
        return first.data["status"], second.data["status"]

    try:
        return asyncio.run(run())
    finally:
        snapshot_cache.clear()


def test_snapshot_is_reused_within_the_ttl(r, settings_env: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    assert _read_twice_around(r, "60", settings_env) == ("pass", "pass")


def test_ttl_zero_reads_redis_every_time(r, settings_env: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    assert _read_twice_around(r, "0", settings_env) == ("pass", "fail")


def test_many_snapshots_come_from_the_cache_or_one_read(
    r, settings_env: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    settings_env.setenv("WEB_SNAPSHOT_CACHE_TTL", "60")
    reset_settings()
    snapshot_cache.clear()

    async def run() -> dict[str, str | None]:
        client = build_async_client(get_settings().conn)
        try:
            _write(r, "pass")
            await snapshot_cache.read_snapshot(client, "health")  # cached alone first
            _write(r, "fail")
            found = await snapshot_cache.read_snapshots(client, ["health", "absent"])
        finally:
            await client.aclose()
        return {k: (v.data["status"] if v else None) for k, v in found.items()}

    try:
        # health still comes from the cache; the uncached name was read (and is missing)
        assert asyncio.run(run()) == {"health": "pass", "absent": None}
    finally:
        snapshot_cache.clear()
