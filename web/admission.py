"""The request guards as the web app uses them: one Redis round trip decides a cache hit.

`check_request()` builds every guard that applies to a request (request-count policies, a free
peek at the LLM-token policies, the session check) and runs them as ONE script call, pipelined
with the cache lookup's MGET on standalone Redis (concurrently on a cluster). Only a miss pays
a second round trip, `Guarded.reserve`, before its model call; the settle rides the
write-behind buffer. Outcomes are counted per policy x outcome x mode in process
(`web.guard_counts`, on `/metrics`).

Refusals are raised as `Refusal` (429 with an integer Retry-After, 410 for a lost session),
audited and answered by one handler (`web.refusal`). GUARD_REDIS_TIMEOUT counts Redis time,
not the event loop's queue (`web.loop_lag.bounded`): a timeout while this process was
congested is our own overload and the request is shed (503, outcome `shed`). Only a real store
failure (refused or reset connection, or a timeout on a responsive loop with no answer from
Redis) applies each policy's fail mode; those are logged once per incident.
"""

from __future__ import annotations

import functools
import math
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import HTTPException, Response
from redis.exceptions import RedisError

from shared import keys
from shared.guards import gcra
from shared.guards.gcra import Decision, GuardCall
from shared.guards.policies import Charge, Policy, policy_key, request_policies, token_policies
from shared.redis_client import AsyncRedisClient
from shared.redis_mux import Multiplexer
from shared.settings import derived, get_settings
from shared.settings.guards import GuardSettings
from web import loop_lag
from web.auth import Principal
from web.guard_counts import INCIDENT, SESSION_CHECKS, count, decided
from web.loop_lag import Overloaded
from web.refusal import Refusal
from web.write_behind import Write, WriteBehind

T = TypeVar("T")


async def bounded(awaitable: Awaitable[T]) -> T:
    """Await one guard round trip: GUARD_REDIS_TIMEOUT of Redis time, not of our queue.

    Raises:
        TimeoutError: Redis took longer (the caller applies the fail mode).
        Overloaded: the process's own event loop lagged past the cap (the caller sheds).
    """
    return await loop_lag.bounded(awaitable, get_settings().guards.guard_timeout_s)


def shed(charges: list[Charge], session: bool) -> HTTPException:
    """The 503 for a request shed because the process is overloaded (counted as `shed`)."""
    for c in charges:
        decided(c.policy, "shed")
    if session:
        SESSION_CHECKS.labels("shed").inc()
    return HTTPException(503, "server busy; retry shortly", headers={"Retry-After": "1"})


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


@functools.lru_cache(maxsize=256)  # policy names: a few fixed words
def _sf_string(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass
class Guarded:
    """What the guards decided for an admitted request.

    The first round trip charged the request-count policies and only peeked at the token
    policies (cost 0: no state written). A caller about to spend model tokens calls `reserve`
    (a second round trip, on a miss only); `finish` then queues the settle on the write-behind
    buffer, or, for an answer from the cache, nothing at all.
    """

    identity: str
    policies: list[Policy]
    decision: Decision | None  # None when Redis failed and every policy was fail-open
    token_charges: list[Charge] = field(default_factory=list)
    reservation_key: str | None = None
    looked_up: list[Any] | Exception | None = None  # the MGET that rode with the guards

    def headers(self) -> dict[str, str]:
        """IETF RateLimit-Policy and RateLimit fields (draft-ietf-httpapi-ratelimit-headers)."""
        return rate_limit_headers(self.policies, self.decision)

    def apply(self, response: Response) -> None:
        response.headers.update(self.headers())

    async def reserve(self, redis: AsyncRedisClient) -> None:
        """Reserve the token estimate before a model call (one round trip).

        Raises:
            Refusal: a token policy refuses the estimate now.
            HTTPException: 503 when shed, or when Redis failed and a token policy is closed.
        """
        if not self.token_charges or self.decision is None or self.reservation_key:
            return
        s = get_settings().guards
        key = keys.rate_reservation(self.identity, uuid.uuid4().hex)
        call = GuardCall(
            self.token_charges,
            reservation_key=key,
            reservation_ttl_ms=int(s.token_reservation_ttl_s * 1000),
        )
        try:
            reserved = await bounded(gcra.acheck(redis, call))
        except Overloaded:
            raise shed(self.token_charges, False) from None
        except (RedisError, TimeoutError) as exc:
            INCIDENT.failed(exc)
            _failed(self.identity, self.token_charges, False)
            return
        INCIDENT.ok()
        count(reserved)
        n = len(self.token_charges)
        self.decision = Decision(
            reserved.allowed, self.decision.session, reserved.results + self.decision.results[n:]
        )
        if not reserved.allowed:
            raise _rejection(self.decision, self.headers())
        self.reservation_key = key

    def finish(self, buffer: WriteBehind, actual_tokens: int) -> None:
        """After the answer: queue the settle of a reservation with the tokens really used.

        An answer from the cache made no reservation; its token policies were only peeked.
        A settle that is dropped or lost leaves the estimate charged until the record expires.
        """
        if self.reservation_key is None:
            if self.decision is not None:
                count(self.decision, self.token_charges, only_tokens=True)
            return
        script = gcra.settle_script(self.token_charges, self.reservation_key, max(0, actual_tokens))
        buffer.add(Write("settle", script=script))


@functools.lru_cache(maxsize=1024)  # the same few policy sets on every request
def _policy_field(policies: tuple[Policy, ...]) -> str:
    described = []
    for p in policies:
        unit = "" if p.unit == "requests" else f';qu="{p.unit}"'
        described.append(f"{_sf_string(p.name)};q={p.limit};w={math.ceil(p.window_s)}{unit}")
    return ", ".join(described)


def rate_limit_headers(policies: list[Policy], decision: Decision | None) -> dict[str, str]:
    if not policies:
        return {}
    headers = {"RateLimit-Policy": _policy_field(tuple(policies))}
    if decision is not None:
        headers["RateLimit"] = ", ".join(
            f"{_sf_string(r.policy.name)};r={r.remaining};t={math.ceil(r.reset_us / 1e6)}"
            for r in decision.results
        )
    return headers


def _rejection(decision: Decision, headers: dict[str, str]) -> Refusal:
    if decision.session == gcra.SESSION_LOST:
        return Refusal(
            410,
            "session lost: it expired, was evicted or released; open a new one with POST /sessions",
            "guard.rejected",
            headers=headers,
        )
    worst = next(r for r in decision.results if r.blocks).policy
    retry_s = decision.retry_after_s
    if retry_s is None:
        reason = (
            f"request cost exceeds the {worst.name!r} limit of {worst.limit} {worst.unit} per "
            f"{worst.window_s:g} s; it can never be admitted"
        )
        return Refusal(429, reason, "guard.rejected", worst.name, None, headers)
    retry_s = max(1, retry_s)
    reason = (
        f"rate limit exceeded: {worst.name!r} allows {worst.limit} {worst.unit} per "
        f"{worst.window_s:g} s; retry in {retry_s} s"
    )
    return Refusal(429, reason, "guard.rejected", worst.name, retry_s, headers)


async def check_request(
    redis: AsyncRedisClient,
    who: Principal,
    *,
    session_id: str | None = None,
    model: str | None = None,
    tokens: int | None = None,
    lookup: list[str] | None = None,
    mux: Multiplexer | None = None,
) -> Guarded:
    """Run every guard of this request in one round trip, with the cache lookup riding along.

    Args:
        who: the caller; `guard_identity(who)` names every bucket and session set.
        session_id: when given, the session must be live in the caller's session set.
        model: the model, for the per-model token policy.
        tokens: estimated LLM tokens; peeked now, reserved by `Guarded.reserve` before a
            model call, settled by `Guarded.finish`.
        lookup: keys to MGET in the same round trip (`Guarded.looked_up`: the replies, or
            the exception when that read failed; None when the guards' round trip failed).
        mux: the process's auto-pipelined connection, for the guards with a lookup
            (standalone Redis; None: a redis-py pipeline).

    Raises:
        Refusal: 429 or 410 (the route's exception handler audits and answers it).
        HTTPException: 503 when shed, or when Redis failed and a policy is fail-closed.
    """
    identity = guard_identity(who)
    plan = _plan(get_settings().guards, who, model, with_tokens=tokens is not None)
    token_charges = []
    if tokens is not None:
        token_charges = [Charge(c.policy, c.key, min(tokens, 2**40)) for c in plan.peeks]
    if not plan.call.charges and session_id is None:
        return Guarded(identity, [], None, looked_up=await _read(redis, lookup))
    call = plan.call
    if session_id is not None:
        call = GuardCall(call.charges, keys.sessions(identity), session_id)
    return await _decide(redis, identity, call, token_charges, lookup=lookup, mux=mux)


@dataclass(frozen=True)
class _Plan:
    """A caller's guards without the request's own values: the same on every request."""

    peeks: list[Charge]  # the token policies at cost 0 (a peek), first
    call: GuardCall  # the peeks, then the request-count policies at cost 1; no session


@derived
@functools.lru_cache(maxsize=4096)  # per caller and model (keys carry the settings' prefix)
def _plan(s: GuardSettings, who: Principal, model: str | None, *, with_tokens: bool) -> _Plan:
    identity = guard_identity(who)
    charges = [
        Charge(p, policy_key(identity, p), 1) for p in request_policies(s, who.subject, who.tenant)
    ]
    peeks = []
    if with_tokens:
        # Token policies first (guard_settle.lua settles the first n policies of a reservation)
        # and at cost 0 here: a free peek that writes nothing, since a hit spends no tokens.
        policies = token_policies(s, who.subject, who.tenant)
        peeks = [Charge(p, policy_key(identity, p, model), 0) for p in policies]
    return _Plan(peeks, GuardCall(peeks + charges))


async def check_charges(redis: AsyncRedisClient, identity: str, charges: list[Charge]) -> Guarded:
    """One guard round trip for `charges` alone (uploads): the same shedding, fail modes,
    counters and refusals as `check_request`; raises `Refusal` or a 503 HTTPException."""
    if not charges:
        return Guarded(identity, [], None)
    return await _decide(redis, identity, GuardCall(charges), [])


async def _decide(
    redis: AsyncRedisClient,
    identity: str,
    call: GuardCall,
    token_charges: list[Charge],
    *,
    lookup: list[str] | None = None,
    mux: Multiplexer | None = None,
) -> Guarded:
    every, session = call.charges, call.session_key is not None
    policies = [c.policy for c in every]
    looked_up: list[Any] | Exception | None = None
    try:
        if lookup:
            decision, looked_up = await bounded(gcra.acheck_and_read(redis, call, lookup, mux))
        else:
            decision = await bounded(gcra.acheck(redis, call))
    except Overloaded:
        raise shed(every, session) from None
    except (RedisError, TimeoutError) as exc:
        INCIDENT.failed(exc)
        return _failed(identity, every, session)
    INCIDENT.ok()
    if not decision.allowed:
        count(decision)
        raise _rejection(decision, rate_limit_headers(policies, decision))
    count(decision, token_charges)
    return Guarded(identity, policies, decision, token_charges, looked_up=looked_up)


async def _read(redis: AsyncRedisClient, lookup: list[str] | None) -> list[Any] | Exception | None:
    if not lookup:
        return None
    try:
        return list(await redis.mget(lookup))
    except RedisError as exc:
        return exc


def _failed(identity: str, charges: list[Charge], session: bool) -> Guarded:
    s = get_settings().guards
    closed = [
        c.policy for c in charges if c.policy.mode == "enforce" and c.policy.fail_mode == "closed"
    ]
    if session:
        SESSION_CHECKS.labels("error").inc()
    for c in charges:
        decided(c.policy, "error")
    if closed or (session and s.rate_limit_fail_mode == "closed"):
        raise HTTPException(
            503, "rate limiter unavailable; retry shortly", headers={"Retry-After": "1"}
        )
    return Guarded(identity, [c.policy for c in charges], None)


def store_unavailable(exc: BaseException) -> HTTPException:
    """The 503 for a session route whose one round trip failed (or was shed)."""
    if isinstance(exc, Overloaded):
        return HTTPException(503, "server busy; retry shortly", headers={"Retry-After": "1"})
    INCIDENT.failed(exc)
    return HTTPException(
        503, "session store unavailable; retry shortly", headers={"Retry-After": "1"}
    )
