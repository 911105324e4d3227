from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import jwt
import pytest
from fastapi.testclient import TestClient


def drain(client: TestClient) -> None:
    """Flush the app's write-behind buffer now (the writes a response left for later)."""
    assert client.portal is not None, "the TestClient must be inside its `with` block"
    client.portal.call(client.app.state.write_behind.drain)  # type: ignore[attr-defined]


@pytest.fixture
def client() -> Iterator[TestClient]:
    """A fresh app (settings read now) with its lifespan running."""
    from web.app import create_app  # noqa: PLC0415

    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def token() -> Callable[..., str]:
    """Mint an HS256 token signed with the test JWT_SECRET."""
    from shared.settings import get_settings  # noqa: PLC0415

    def mint(
        sub: str = "alice", role: str | None = None, ttl_s: float = 300, **extra: object
    ) -> str:
        claims: dict[str, object] = {"sub": sub, "exp": int(time.time() + ttl_s), **extra}
        if role:
            claims["role"] = role
        return jwt.encode(claims, get_settings().web.jwt_secret or "", algorithm="HS256")

    return mint
