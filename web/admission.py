"""The request guards as the web app uses them: one Redis round trip per request.

`check_request()` builds every guard that applies to a request (request-count policies, the
LLM-token reservation, the session check), runs them as ONE script call bounded by
GUARD_REDIS_TIMEOUT, counts the outcome per policy x outcome x mode in process (scraped from
`/metrics`, no extra Redis work), and either returns a `Guarded` handle (headers to send, the
reservation to settle) or raises the HTTP error: 429 with an integer Retry-After, 410 for a lost
session, 503 when Redis is unreachable and a policy is fail-closed.

Redis failures are logged once per incident (first failure, then recovery with a count), not
once per request.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from fastapi import HTTPException, Request, Response
from prometheus_client import Counter
from redis.exceptions import RedisError

from shared import keys
from shared.guards import gcra
from shared.guards.gcra import Decision, GuardCall
from shared.guards.overrides import parse_overrides
from shared.guards.policies import Charge, Policy, policy_key, request_policies, token_policies
from shared.redis_client import AsyncRedisClient
from shared.settings import get_settings
from web.auth import Principal, decode_token
from web.metrics import REGISTRY

log = logging.getLogger(__name__)
T = TypeVar("T")

DECISIONS = Counter(
    "chatbot_rate_limit_decisions",
    "Rate-limit decisions per policy, outcome (allowed, rejected, error) and mode",
    ["policy", "outcome", "mode"],
    registry=REGISTRY,
)
SESSION_CHECKS = Counter(
    "chatbot_session_guard",
    "Session guard outcomes (live, lost, error)",
    ["outcome"],
    registry=REGISTRY,
)
STORE_ERRORS = Counter(
    "chatbot_guard_store_errors", "Guard round trips that failed or timed out", registry=REGISTRY
)


class _Incident:
    """Log the first failure of an outage and the recovery, not every failed request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failures = 0

    def failed(self, exc: BaseException) -> None:
        STORE_ERRORS.inc()
        with self._lock:
            self.failures += 1
            first = self.failures == 1
        if first:
            log.warning(
                "guard store unavailable (%s); applying each policy's fail mode", type(exc).__name__
            )

    def ok(self) -> None:
        if self.failures:
            with self._lock:
                count, self.failures = self.failures, 0
            if count:
                log.warning("guard store recovered after %d failed guard calls", count)


INCIDENT = _Incident()


async def bounded(awaitable: Awaitable[T]) -> T:
    """Await one guard round trip within GUARD_REDIS_TIMEOUT (TimeoutError beyond it)."""
    async with asyncio.timeout(get_settings().guards.guard_timeout_s):
        return await awaitable


def _tenant(request: Request, who: Principal) -> str | None:
    """The caller's tenant claim, read only when tenant overrides exist (one HMAC, no I/O)."""
    s = get_settings().guards
    if who.subject is None or not parse_overrides(s.rate_limit_overrides)["tenants"]:
        return None
    _, _, token = request.headers.get("authorization", "").partition(" ")
    value = decode_token(token.strip()).get(s.tenant_claim)
    return value if isinstance(value, str) else None


def guard_identity(who: Principal) -> str:
    """The id in the caller's `{u:<id>}` tag: `u.<sub>` or `ip.<address>`.

    A dot, not `Principal.identity`'s colon, so plain ids stay readable in keys (`safe_id` keeps
    `[A-Za-z0-9_.@-]`) and the keys stay short; the two prefixes cannot collide because a
    user's id always starts with `u.`. Anything else (IPv6, odd subjects) is hashed by `safe_id`.
    """
    return f"u.{who.subject}" if who.subject else f"ip.{who.address}"


def estimate_tokens(message: str) -> int:
    """Tokens to reserve before the model call: ~4 characters a token, plus the completion."""
    return math.ceil(len(message) / 4) + get_settings().guards.token_estimate_completion


def _sf_string(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Guarded:
    """What the guards decided for an admitted request."""

    identity: str
    policies: list[Policy]
    decision: Decision | None  # None when Redis failed and every policy was fail-open
    token_charges: list[Charge] = field(default_factory=list)
    reservation_key: str | None = None

    def headers(self) -> dict[str, str]:
        """IETF RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers)."""
        return rate_limit_headers(self.policies, self.decision)

    def apply(self, response: Response) -> None:
        response.headers.update(self.headers())

    async def settle(self, redis: AsyncRedisClient, actual_tokens: int) -> None:
        """Charge or refund the difference between reserved and used tokens (after the reply).

        A failure here is counted and dropped: the reservation then releases itself.
        """
        if self.reservation_key is None:
            return
        try:
            await bounded(
                gcra.asettle(redis, self.token_charges, self.reservation_key, max(0, actual_tokens))
            )
        except (RedisError, TimeoutError) as exc:
            INCIDENT.failed(exc)


def rate_limit_headers(policies: list[Policy], decision: Decision | None) -> dict[str, str]:
    if not policies:
        return {}
    described = []
    for p in policies:
        unit = "" if p.unit == "requests" else f';qu="{p.unit}"'
        described.append(f"{_sf_string(p.name)};q={p.limit};w={math.ceil(p.window_s)}{unit}")
    headers = {"RateLimit-Policy": ", ".join(described)}
    if decision is not None:
        headers["RateLimit"] = ", ".join(
            f"{_sf_string(r.policy.name)};r={r.remaining};t={math.ceil(r.reset_us / 1e6)}"
            for r in decision.results
        )
    return headers


def _count(decision: Decision) -> None:
    for r in decision.results:
        outcome = "allowed" if r.passes else "rejected"
        DECISIONS.labels(r.policy.name, outcome, r.policy.mode).inc()
    if decision.session != gcra.SESSION_UNCHECKED:
        SESSION_CHECKS.labels("live" if decision.session == gcra.SESSION_LIVE else "lost").inc()


def _rejection(decision: Decision, headers: dict[str, str]) -> HTTPException:
    if decision.session == gcra.SESSION_LOST:
        return HTTPException(
            410,
            "session lost: it expired, was evicted or released; open a new one with POST /sessions",
            headers=headers,
        )
    blocking = [r for r in decision.results if r.blocks]
    worst = blocking[0].policy
    retry_s = decision.retry_after_s
    if retry_s is None:
        return HTTPException(
            429,
            f"request cost exceeds the {worst.name!r} limit of "
            f"{worst.limit} {worst.unit} per {worst.window_s:g} s; it can "
            "never be admitted",
            headers=headers,
        )
    headers = {**headers, "Retry-After": str(max(1, retry_s))}
    return HTTPException(
        429,
        f"rate limit exceeded: {worst.name!r} allows {worst.limit} "
        f"{worst.unit} per {worst.window_s:g} s; retry in {max(1, retry_s)} s",
        headers=headers,
    )


async def check_request(
    request: Request,
    redis: AsyncRedisClient,
    who: Principal,
    *,
    session_id: str | None = None,
    model: str | None = None,
    tokens: int | None = None,
) -> Guarded:
    """Run every guard of this request in one round trip; raises HTTPException when refused.

    Args:
        who: the caller; its `identity` (user or address) names every bucket and session set.
        session_id: when given, the session must be live in the caller's session set.
        model: the model, for the per-model token policy.
        tokens: estimated LLM tokens to reserve (settle later with `Guarded.settle`).
    """
    s = get_settings().guards
    tenant = _tenant(request, who)
    identity = guard_identity(who)
    charges = [
        Charge(p, policy_key(identity, p), 1) for p in request_policies(s, who.subject, tenant)
    ]
    token_charges = []
    if tokens is not None:
        token_charges = [
            Charge(p, policy_key(identity, p, model), min(tokens, 2**40))
            for p in token_policies(s, who.subject, tenant)
        ]
    # Token charges first: the reservation record lists units per policy in call order, and
    # guard_settle.lua settles the first n of them (the token policies).
    every = token_charges + charges
    reservation_key = None
    if token_charges:
        reservation_key = keys.rate_reservation(identity, uuid.uuid4().hex)
    policies = [c.policy for c in every]
    if not every and session_id is None:
        return Guarded(identity, [], None)
    call = GuardCall(
        every,
        session_key=keys.sessions(identity) if session_id else None,
        session_id=session_id,
        reservation_key=reservation_key,
        reservation_ttl_ms=int(s.token_reservation_ttl_s * 1000),
    )
    try:
        decision = await bounded(gcra.acheck(redis, call))
    except (RedisError, TimeoutError) as exc:
        INCIDENT.failed(exc)
        return _failed(identity, every, session_id is not None)
    INCIDENT.ok()
    _count(decision)
    headers = rate_limit_headers(policies, decision)
    if not decision.allowed:
        raise _rejection(decision, headers)
    return Guarded(identity, policies, decision, token_charges, reservation_key)


def _failed(identity: str, charges: list[Charge], session: bool) -> Guarded:
    s = get_settings().guards
    closed = [
        c.policy for c in charges if c.policy.mode == "enforce" and c.policy.fail_mode == "closed"
    ]
    if session:
        SESSION_CHECKS.labels("error").inc()
    for c in charges:
        DECISIONS.labels(c.policy.name, "error", c.policy.mode).inc()
    if closed or (session and s.rate_limit_fail_mode == "closed"):
        raise HTTPException(
            503, "rate limiter unavailable; retry shortly", headers={"Retry-After": "1"}
        )
    return Guarded(identity, [c.policy for c in charges], None)


def store_unavailable(exc: BaseException) -> HTTPException:
    """The 503 for a session route whose one round trip failed."""
    INCIDENT.failed(exc)
    return HTTPException(
        503, "session store unavailable; retry shortly", headers={"Retry-After": "1"}
    )
