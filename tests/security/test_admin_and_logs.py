"""Admin endpoints: no token / wrong role / expired / forged → 401 or 403; the web logs no secret.

Every route of the real app that depends on `require_admin` is exercised (the list grows as the
domains add admin routes), and a tiny app checks the dependency itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from web.auth import Admin, require_admin


def _needs_admin(dependant: Any) -> bool:
    return any(
        d.call is require_admin or _needs_admin(d) for d in getattr(dependant, "dependencies", [])
    )


def _walk(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """Every APIRoute with its full path (FastAPI >= 0.160 nests included routers lazily)."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):
            nested = prefix + getattr(route.include_context, "prefix", "")
            found += _walk(route.original_router.routes, nested)
    return found


def _admin_routes() -> list[tuple[str, str]]:
    from web.app import create_app  # noqa: PLC0415

    found = []
    for path, route in _walk(create_app().routes):
        if _needs_admin(route.dependant):
            found.extend((method, path) for method in sorted(route.methods))
    return found


def _tiny_app() -> FastAPI:
    from web import errors  # noqa: PLC0415

    app = FastAPI()
    errors.install(app)

    @app.get("/admin/ping")
    def ping(who: Admin) -> dict[str, str]:
        return {"admin": who.subject or ""}

    return app


@pytest.fixture
def mint() -> Callable[..., str]:
    from shared.settings import get_settings  # noqa: PLC0415

    def make(role: str | None = "admin", ttl_s: float = 300, secret: str | None = None) -> str:
        claims: dict[str, object] = {"sub": "ops", "exp": int(time.time() + ttl_s)}
        if role:
            claims["role"] = role
        key = secret or get_settings().web.jwt_secret or ""
        return jwt.encode(claims, key, algorithm="HS256")

    return make


def _cases(mint: Callable[..., str]) -> list[tuple[dict[str, str], int]]:
    return [
        ({}, 401),
        ({"Authorization": "Basic b3BzOnB3"}, 401),
        ({"Authorization": f"Bearer {mint(role=None)}"}, 403),
        ({"Authorization": f"Bearer {mint(role='user')}"}, 403),
        ({"Authorization": f"Bearer {mint(ttl_s=-60)}"}, 401),
        ({"Authorization": f"Bearer {mint(secret='forged-' + 'k' * 32)}"}, 401),
        ({"Authorization": "Bearer not.a.jwt"}, 401),
    ]


def test_require_admin_on_a_tiny_app(mint: Callable[..., str]) -> None:
    with TestClient(_tiny_app()) as client:
        for headers, status in _cases(mint):
            assert client.get("/admin/ping", headers=headers).status_code == status, headers
        ok = client.get("/admin/ping", headers={"Authorization": f"Bearer {mint()}"})
    assert ok.status_code == 200
    assert ok.json() == {"admin": "ops"}


ADMIN_ROUTES = _admin_routes()


@pytest.mark.skipif(not ADMIN_ROUTES, reason="no admin route in web.app yet")
@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES)
def test_every_admin_route_refuses_non_admins(
    method: str, path: str, mint: Callable[..., str]
) -> None:
    from web.app import create_app  # noqa: PLC0415

    url = path.replace("{", "").replace("}", "")  # any value: auth runs before the handler
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        for headers, status in _cases(mint):
            got = client.request(method, url, headers=headers).status_code
            assert got == status, (method, path, headers, got)


@pytest.fixture
def web_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record the app emits at DEBUG and above, unfiltered."""
    with caplog.at_level(logging.DEBUG):
        yield caplog


def test_no_secret_in_web_logs(
    settings_env: pytest.MonkeyPatch,
    web_logs: pytest.LogCaptureFixture,
    redis_base_url: str,
    mint: Callable[..., str],
) -> None:
    from shared.redis_client import reset_redis  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415
    from web.app import create_app  # noqa: PLC0415

    password = "pw-" + "z" * 24
    # Credentials Redis rejects: every Redis step fails and logs, with the password in the URL.
    port = redis_base_url.rsplit(":", 1)[1]
    settings_env.setenv("REDIS_URL", f"redis://nobody:{password}@127.0.0.1:{port}/0")
    settings_env.setenv("REDIS_RETRIES", "0")
    reset_settings()
    reset_redis()
    token = mint()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        assert client.get("/health/ready").status_code == 503
        assert client.get("/health/advanced").status_code == 503
        client.post("/chat", json={"message": "hi"}, headers={"Authorization": f"Bearer {token}"})
        client.get("/health", headers={"Authorization": f"Bearer {token}x"})
    text = web_logs.text
    assert len(web_logs.records) >= 4  # the scan saw the app's and the client's records
    from shared.settings import get_settings  # noqa: PLC0415

    for secret in (password, token, get_settings().web.jwt_secret or "unset"):
        assert secret not in text
