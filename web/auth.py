"""Who is calling: a verified JWT subject, else the client address (proxies only when trusted).

Tokens are HS256 bearer tokens signed with JWT_SECRET; the `sub` claim is the user id and
`role: "admin"` marks an administrator. A token that is present but bad or expired is a 401;
no silent fallback to the anonymous identity.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request

from shared.settings import get_settings

_ALGORITHMS = ["HS256"]
_VERIFIED_MAX = 4096
# (secret, token) -> claims of a token whose signature verified. Signature checking is what this
# saves; the secret is part of the key so a rotated JWT_SECRET never honours the old signatures,
# and `exp` is checked again on every use. Failures are never stored.
_verified: OrderedDict[tuple[str, str], dict[str, object]] = OrderedDict()


@dataclass(frozen=True)
class Principal:
    """The caller, decoded once per request (the token's claims are not read again)."""

    subject: str | None
    role: str | None
    address: str
    tenant: str | None = None  # the RATE_LIMIT_TENANT_CLAIM claim, for tenant overrides

    @property
    def identity(self) -> str:
        """The actor in audit events and analytics: `user:<sub>`, else `ip:<address>`.

        Rate limits and sessions key on `web.admission.guard_identity` instead (`u.<sub>` /
        `ip.<address>` inside the `{u:...}` hash tag).
        """
        return f"user:{self.subject}" if self.subject else f"ip:{self.address}"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _in_networks(address: str, networks: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in networks)


def client_address(request: Request) -> str:
    """The peer address; X-Forwarded-For is read right to left only through trusted proxies."""
    peer = request.client.host if request.client else "unknown"
    return address_of(peer, request.headers.get("x-forwarded-for"))


def address_of(peer: str, forwarded_for: str | None) -> str:
    """`client_address` from the peer and the X-Forwarded-For header's value."""
    trusted = get_settings().web.trusted_proxies
    if not trusted or not _in_networks(peer, trusted):
        return peer
    hops = [h.strip() for h in (forwarded_for or "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _in_networks(hop, trusted):
            return hop
    return hops[0] if hops else peer


def _expired() -> HTTPException:
    return HTTPException(401, "token expired", headers={"WWW-Authenticate": "Bearer"})


def decode_token(token: str) -> dict[str, object]:
    """Verify and decode an HS256 token; raises HTTPException(401) when it is not acceptable."""
    secret = get_settings().web.jwt_secret
    if not secret:
        raise HTTPException(401, "bearer tokens are not accepted: JWT_SECRET is not configured")
    key = (secret, token)
    cached = _verified.get(key)
    if cached is not None:
        # PyJWT's rule, no leeway: expired once the integer exp is at or before now.
        if int(cached["exp"]) <= time.time():  # type: ignore[call-overload]
            _verified.pop(key, None)
            raise _expired()
        _verified.move_to_end(key)
        return dict(cached)
    try:
        claims: dict[str, object] = jwt.decode(
            token, secret, algorithms=_ALGORITHMS, options={"require": ["sub", "exp"]}
        )
    except jwt.ExpiredSignatureError:
        raise _expired() from None
    except jwt.InvalidTokenError:
        raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"}) from None
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise HTTPException(401, "token has no subject", headers={"WWW-Authenticate": "Bearer"})
    _verified[key] = claims
    if len(_verified) > _VERIFIED_MAX:
        _verified.popitem(last=False)
    return dict(claims)


async def principal(request: Request) -> Principal:
    """The caller of this request (FastAPI dependency)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    found = caller(request.headers.get("authorization"), client_address(request))
    request.state.principal = found
    return found


def caller(authorization: str | None, address: str) -> Principal:
    """The caller from the Authorization header's value; raises HTTPException(401)."""
    if authorization is None:
        return Principal(None, None, address)
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "expected 'Authorization: Bearer <token>'")
    claims = decode_token(token.strip())
    role = claims.get("role")
    tenant = claims.get(get_settings().guards.tenant_claim)
    return Principal(
        str(claims["sub"]),
        role if isinstance(role, str) else None,
        address,
        tenant if isinstance(tenant, str) else None,
    )


async def require_admin(who: Annotated[Principal, Depends(principal)]) -> Principal:
    """Only an authenticated admin passes: 401 without a token, 403 without the role."""
    if who.subject is None:
        raise HTTPException(401, "admin token required", headers={"WWW-Authenticate": "Bearer"})
    if not who.is_admin:
        raise HTTPException(403, "admin role required")
    return who


Caller = Annotated[Principal, Depends(principal)]
Admin = Annotated[Principal, Depends(require_admin)]
