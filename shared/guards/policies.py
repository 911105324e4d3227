"""Rate-limit policies: what a request is charged against, built from settings and overrides.

A policy admits `limit` units at once (the burst) and regains one unit every emission interval
`T = ceil(window / limit)` microseconds. T is rounded *up* to a whole microsecond so the rate is
never above the nominal one (for 70,000/day the difference is 3 parts in 10 million).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

from shared import keys
from shared.guards.overrides import override_for
from shared.models_catalog import model_label
from shared.settings.guards import GuardSettings

ENFORCE, SHADOW, OFF = "enforce", "shadow", "off"
MAX_COST = 2**40  # far above any real token count; keeps cost x T exact in a Lua double


@dataclass(frozen=True)
class Policy:
    """One limit: `limit` units per `window_s`, with its mode and its behaviour on Redis failure.

    `name` is the key suffix, the metric label and the header policy name, so it is a short
    fixed word (never a user-supplied value).
    """

    name: str
    limit: int
    window_s: float
    mode: str = ENFORCE
    fail_mode: str = "open"
    unit: str = "requests"

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window_s <= 0:
            raise ValueError(f"policy {self.name}: limit and window must be positive")
        if self.window_s * 1_000_000 < self.limit:
            raise ValueError(f"policy {self.name}: at most one unit per microsecond")

    @functools.cached_property
    def emission_us(self) -> int:
        """Microseconds to regain one unit (rounded up); computed once per policy object."""
        return math.ceil(self.window_s * 1_000_000 / self.limit)


@dataclass(frozen=True)
class Charge:
    """`cost` units against `policy` on the Redis key `key` (one identity's bucket)."""

    policy: Policy
    key: str
    cost: int

    def __post_init__(self) -> None:
        if isinstance(self.cost, bool) or not isinstance(self.cost, int):
            raise TypeError("cost must be an int")
        if self.cost < 0:
            raise ValueError("cost must be >= 0 (refunds go through settle)")


def checked_cost(cost: int) -> int:
    """Clamp a huge cost to MAX_COST: it is above any limit, so it is rejected either way."""
    return min(cost, MAX_COST)


def _apply(policy: Policy, raw: str, user: str | None, tenant: str | None) -> Policy:
    found = override_for(raw, policy.name, user, tenant)
    return replace(policy, **found) if found else policy


@functools.lru_cache(maxsize=4096)  # settings are frozen: one build per caller, not per request
def request_policies(s: GuardSettings, user: str | None, tenant: str | None) -> tuple[Policy, ...]:
    """The request-count policies in force for this caller (mode `off` ones excluded)."""
    if not s.rate_limit_enabled:
        return ()
    found = [
        Policy(
            "minute",
            s.rate_limit_requests,
            s.rate_limit_window_s,
            s.rate_limit_mode,
            s.rate_limit_fail_mode,
        ),
    ]
    if s.rate_limit_daily_requests:
        found.append(
            Policy(
                "day",
                s.rate_limit_daily_requests,
                86_400.0,
                s.rate_limit_mode,
                s.rate_limit_fail_mode,
            )
        )
    found = [_apply(p, s.rate_limit_overrides, user, tenant) for p in found]
    return tuple(p for p in found if p.mode != OFF)


@functools.lru_cache(maxsize=4096)
def token_policies(s: GuardSettings, user: str | None, tenant: str | None) -> tuple[Policy, ...]:
    """The LLM-token policies (per identity, and per identity and model) in force."""
    if not s.rate_limit_enabled:
        return ()
    found = []
    if s.token_limit_per_minute:
        found.append(
            Policy(
                "tokens",
                s.token_limit_per_minute,
                60.0,
                s.token_limit_mode,
                s.token_limit_fail_mode,
                "tokens",
            )
        )
    if s.token_limit_model_per_minute:
        found.append(
            Policy(
                "model_tokens",
                s.token_limit_model_per_minute,
                60.0,
                s.token_limit_mode,
                s.token_limit_fail_mode,
                "tokens",
            )
        )
    found = [_apply(p, s.rate_limit_overrides, user, tenant) for p in found]
    return tuple(p for p in found if p.mode != OFF)


def policy_key(identity: str, policy: Policy, model: str | None = None) -> str:
    """The bucket key; per-model policies add the model's label (a known model, or `other`).

    One bucket per label, not per name: a client inventing model names would otherwise get a
    fresh budget, and a new key, with each one.
    """
    if policy.name == "model_tokens" and model is not None:
        return keys.rate_limit(identity, f"{policy.name}.{keys.safe_id(model_label(model))}")
    return keys.rate_limit(identity, policy.name)
