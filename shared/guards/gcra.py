"""GCRA rate limiting in one atomic script (`shared/lua/guard.lua`): several policies checked
together, all-or-nothing, optionally with a session check and a token reservation.

`GuardCall` describes one request's guards; `check`/`acheck` run it as ONE EVALSHA (sync and
asyncio clients), `acheck_and_read` pipelines it with an MGET (the web's cache lookup),
`settle`/`asettle` settle a token reservation afterwards (`settle_script` hands the call to a
caller that batches it). A charge of cost 0 is a free peek: decided and reported, never written.
Every key of one call carries the caller's `{u:<id>}` hash tag, so the script works on Redis
Cluster.
"""

from __future__ import annotations

import asyncio
import functools
import math
from dataclasses import dataclass
from typing import Any, NamedTuple

from redis.exceptions import NoScriptError

from shared import lua
from shared.guards.policies import Charge, Policy, checked_cost
from shared.redis_client import AsyncRedisClient, RedisClient, is_cluster
from shared.redis_mux import Multiplexer

SESSION_LIVE, SESSION_LOST, SESSION_UNCHECKED = 1, 0, -1


class PolicyResult(NamedTuple):  # a tuple: built on every request, ~3x cheaper than a dataclass
    """One policy's verdict: whether it passes, units left, time to full, time to retry."""

    policy: Policy
    passes: bool
    remaining: int
    reset_us: int
    retry_after_us: int  # 0 when it passes, -1 when the cost can never pass (above the limit)

    @property
    def blocks(self) -> bool:
        return not self.passes and self.policy.mode == "enforce"


class Decision(NamedTuple):
    allowed: bool
    session: int  # SESSION_LIVE, SESSION_LOST or SESSION_UNCHECKED
    results: list[PolicyResult]

    @property
    def retry_after_s(self) -> int | None:
        """Whole seconds until every blocking policy passes; None when one never will."""
        waits = [r.retry_after_us for r in self.results if r.blocks]
        if any(w < 0 for w in waits):
            return None
        return math.ceil(max(waits, default=0) / 1_000_000)


@dataclass(frozen=True)
class GuardCall:
    """Everything one request's guards need, in the order the script reads it."""

    charges: list[Charge]
    session_key: str | None = None
    session_id: str | None = None
    reservation_key: str | None = None
    reservation_ttl_ms: int = 0
    now_us: int | None = None

    def keys_and_args(self) -> tuple[list[str], list[str | int]]:
        """KEYS and ARGV of the guard script (computed once per call object: the web reuses
        one per caller for every request without a session)."""
        return self._keys_and_args

    @functools.cached_property
    def _keys_and_args(self) -> tuple[list[str], list[str | int]]:
        keys = [c.key for c in self.charges]
        args: list[str | int] = [
            "" if self.now_us is None else self.now_us,
            len(self.charges),
            self.session_id or "",
            self.reservation_ttl_ms if self.reservation_key else 0,
        ]
        if self.session_id:
            if self.session_key is None:
                raise ValueError("a session check needs the session key")
            keys.append(self.session_key)
        if self.reservation_key and self.reservation_ttl_ms > 0:
            keys.append(self.reservation_key)
        for c in self.charges:
            shadow = "1" if c.policy.mode == "shadow" else "0"
            args += [c.policy.emission_us, c.policy.limit, checked_cost(c.cost), shadow]
        return keys, args

    def parse(self, reply: list[Any]) -> Decision:
        results = [
            PolicyResult(
                c.policy,
                bool(reply[2 + 4 * i]),
                int(reply[3 + 4 * i]),
                int(reply[4 + 4 * i]),
                int(reply[5 + 4 * i]),
            )
            for i, c in enumerate(self.charges)
        ]
        return Decision(bool(reply[0]), int(reply[1]), results)


def _evalsha(client: RedisClient, name: str, keys: list[str], args: list[str | int]) -> Any:
    # EVALSHA straight on the client: redis-py's Script.__call__ costs ~5 us of Python per call
    # on the request path; it is still the fallback that loads the script after a NOSCRIPT.
    script = lua.script(client, name)
    try:
        return client.evalsha(script.sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call]
    except NoScriptError:
        return script(keys=keys, args=args)


async def _aevalsha(
    client: AsyncRedisClient, name: str, keys: list[str], args: list[str | int]
) -> Any:
    script = lua.script(client, name)
    try:
        return await client.evalsha(script.sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call,misc]
    except NoScriptError:
        return await script(keys=keys, args=args)


def check(client: RedisClient, call: GuardCall) -> Decision:
    """Run the guards in one EVALSHA; charges every policy or none."""
    keys, args = call.keys_and_args()
    return call.parse(_evalsha(client, "guard", keys, args))


async def acheck(client: AsyncRedisClient, call: GuardCall) -> Decision:
    """The asyncio twin of `check`."""
    keys, args = call.keys_and_args()
    return call.parse(await _aevalsha(client, "guard", keys, args))


async def acheck_and_read(
    client: AsyncRedisClient,
    call: GuardCall,
    read_keys: list[str],
    mux: Multiplexer | None = None,
) -> tuple[Decision, list[Any] | Exception]:
    """The guards and an MGET of `read_keys` in ONE round trip (a non-transactional pipeline,
    or back to back on the process's auto-pipelined connection `mux` when given).

    The MGET is a plain read that any caller may see, so it needs no atomicity with the
    script; its failure is returned, not raised (the reader decides how to degrade). On Redis
    Cluster the keys' slots differ and the cluster pipeline cannot carry EVALSHA, so the two go
    concurrently: two round trips in flight at once.
    """
    if is_cluster(client):
        decision, read = await asyncio.gather(
            acheck(client, call), client.mget(read_keys), return_exceptions=True
        )
        if isinstance(decision, BaseException):
            raise decision
        return decision, read if isinstance(read, list | Exception) else Exception(read)
    keys, args = call.keys_and_args()
    sha = lua.script(client, "guard").sha
    if mux is not None:
        guard, read = await mux.call(
            ("EVALSHA", sha, len(keys), *keys, *args), ("MGET", *read_keys)
        )
    else:
        async with client.pipeline(transaction=False) as pipe:
            pipe.evalsha(sha, len(keys), *keys, *args)
            pipe.mget(read_keys)
            guard, read = await pipe.execute(raise_on_error=False)
    if isinstance(guard, NoScriptError):  # after a SCRIPT FLUSH: the script ran nothing
        guard = await _aevalsha(client, "guard", keys, args)
    elif isinstance(guard, Exception):
        raise guard
    return call.parse(guard), read


def settle_script(
    charges: list[Charge], reservation_key: str, actual: int
) -> tuple[str, list[str], list[str | int]]:
    """(script name, KEYS, ARGV) of the settle, for a caller that batches it (write-behind)."""
    return ("guard_settle", *_settle_call(charges, reservation_key, actual, None))


def _settle_call(
    charges: list[Charge], reservation_key: str, actual: int, now_us: int | None
) -> tuple[list[str], list[str | int]]:
    if actual < 0:
        raise ValueError("actual cost must be >= 0")
    keys = [c.key for c in charges] + [reservation_key]
    args: list[str | int] = ["" if now_us is None else now_us, len(charges), checked_cost(actual)]
    args += [c.policy.emission_us for c in charges]
    return keys, args


def settle(
    client: RedisClient,
    charges: list[Charge],
    reservation_key: str,
    actual: int,
    now_us: int | None = None,
) -> list[int] | None:
    """Settle a reservation with the actual cost, once; per-policy differences, or None when the
    reservation was already settled or has released itself (expired).

    `charges` must be the first charges of the reserving `GuardCall`, in the same order (put the
    token charges first there).
    """
    keys, args = _settle_call(charges, reservation_key, actual, now_us)
    reply = lua.script(client, "guard_settle")(keys=keys, args=args)
    return [int(x) for x in reply[1:]] if reply[0] else None


async def asettle(
    client: AsyncRedisClient,
    charges: list[Charge],
    reservation_key: str,
    actual: int,
    now_us: int | None = None,
) -> list[int] | None:
    """The asyncio twin of `settle`."""
    keys, args = _settle_call(charges, reservation_key, actual, now_us)
    reply = await lua.script(client, "guard_settle")(keys=keys, args=args)
    return [int(x) for x in reply[1:]] if reply[0] else None
