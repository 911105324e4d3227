"""The per-process cache of verified tokens never widens what `decode_token` accepts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest
from fastapi import HTTPException
from freezegun import freeze_time

from shared.settings import reset_settings
from web import auth


@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("JWT_SECRET", "s" * 32)
    reset_settings()
    auth._verified.clear()
    yield "s" * 32
    auth._verified.clear()
    reset_settings()


def _mint(secret: str, sub: str = "alice", exp: float | None = None) -> str:
    claims = {"sub": sub, "exp": int(exp if exp is not None else time.time() + 300)}
    return jwt.encode(claims, secret, algorithm="HS256")


def _refusal(token: str) -> str:
    with pytest.raises(HTTPException) as caught:
        auth.decode_token(token)
    assert caught.value.status_code == 401
    return str(caught.value.detail)


def test_a_cached_token_is_refused_once_it_expires(secret: str) -> None:
    with freeze_time("2030-01-01 00:00:00") as frozen:
        token = _mint(secret, exp=time.time() + 1)
        assert auth.decode_token(token)["sub"] == "alice"
        assert auth.decode_token(token)["sub"] == "alice"  # served from the cache
        frozen.tick(1)
        assert _refusal(token) == "token expired"
        assert _refusal(token) == "token expired"


def test_a_token_signed_with_another_secret_is_refused(secret: str) -> None:
    assert _refusal(_mint("o" * 32)) == "invalid token"
    good = _mint(secret)
    auth.decode_token(good)
    assert _refusal(good[:-2] + ("AA" if not good.endswith("AA") else "BB")) == "invalid token"


def test_a_rotated_secret_does_not_honour_cached_tokens(
    secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = _mint(secret)
    assert auth.decode_token(token)["sub"] == "alice"
    monkeypatch.setenv("JWT_SECRET", "r" * 32)
    reset_settings()
    assert _refusal(token) == "invalid token"


def test_the_cache_is_bounded_and_returns_copies(
    secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(auth, "_VERIFIED_MAX", 3)
    tokens = [_mint(secret, sub=f"u{i}") for i in range(5)]
    for token in tokens:
        auth.decode_token(token)
    assert len(auth._verified) == 3
    claims = auth.decode_token(tokens[-1])
    claims["sub"] = "mallory"
    assert auth.decode_token(tokens[-1])["sub"] == "u4"
