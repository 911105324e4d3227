"""A Redis that accepts connections but never answers: the guard gives up after
GUARD_REDIS_TIMEOUT and applies the fail mode instead of hanging the request."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from fastapi import HTTPException

from shared.redis_client import build_async_client
from shared.settings import get_settings, reset_settings
from web import admission
from web.auth import Principal


@pytest.fixture
def black_hole() -> Iterator[str]:
    """A listening socket that accepts and never replies."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    try:
        yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    finally:
        server.close()


def _check(url: str) -> admission.Guarded:
    async def run() -> admission.Guarded:
        client = build_async_client(get_settings().conn, url)
        try:
            who = Principal("alice", None, "127.0.0.1")
            return await admission.check_request(client, who, tokens=10)
        finally:
            await client.aclose()

    return asyncio.run(run())


def test_slow_store_fails_open(settings_env: pytest.MonkeyPatch, black_hole: str) -> None:
    settings_env.setenv("GUARD_REDIS_TIMEOUT", "0.2")
    reset_settings()
    guarded = _check(black_hole)
    assert guarded.decision is None
    assert [p.name for p in guarded.policies] == ["tokens", "minute"]
    admission.INCIDENT.ok()


def test_slow_store_fails_closed_per_policy(
    settings_env: pytest.MonkeyPatch, black_hole: str
) -> None:
    settings_env.setenv("GUARD_REDIS_TIMEOUT", "0.2")
    settings_env.setenv("TOKEN_LIMIT_FAIL_MODE", "closed")  # requests stay fail-open
    reset_settings()
    with pytest.raises(HTTPException) as refused:
        _check(black_hole)
    assert refused.value.status_code == 503
    assert refused.value.headers == {"Retry-After": "1"}
    admission.INCIDENT.ok()


def test_an_upload_on_a_congested_process_is_shed_not_admitted(
    settings_env: pytest.MonkeyPatch, black_hole: str
) -> None:
    """Uploads fail open on a real outage, but a busy loop is no outage: 503, never unchecked."""
    from starlette.requests import Request  # noqa: PLC0415

    from web.file_access import admit_upload  # noqa: PLC0415
    from web.loop_lag import LAG  # noqa: PLC0415

    settings_env.setenv("GUARD_REDIS_TIMEOUT", "0.1")
    reset_settings()
    scope = {"type": "http", "method": "POST", "path": "/files", "query_string": b"",
             "headers": [(b"content-length", b"1000")]}  # fmt: skip

    async def run() -> None:
        loop = asyncio.get_running_loop()
        LAG.start()
        await asyncio.sleep(0.05)
        stop = loop.time() + 3

        def hog() -> None:  # 60 ms of CPU per loop pass: the process, not Redis, is slow
            import time  # noqa: PLC0415

            time.sleep(0.06)
            if loop.time() < stop:
                loop.call_soon(hog)

        client = build_async_client(get_settings().conn, black_hole)
        try:
            loop.call_soon(hog)
            await admit_upload(Request(scope), client, Principal("alice", None, "127.0.0.1"))
        finally:
            await client.aclose()
            await LAG.stop()

    with pytest.raises(HTTPException) as refused:
        asyncio.run(run())
    assert refused.value.status_code == 503
    assert refused.value.headers == {"Retry-After": "1"}
