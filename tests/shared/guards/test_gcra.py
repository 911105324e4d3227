"""GCRA policies in guard.lua against a real Redis: burst, rate, costs, all-or-nothing, TTLs."""

from __future__ import annotations

import pytest
import redis

from shared import keys
from shared.guards import gcra
from shared.guards.policies import MAX_COST, Charge, Policy

NOW = 4_000_000_000_000_000  # explicit clock (us, year 2096): keys expire at absolute times
MINUTE = Policy("minute", 5, 60.0)
DAY = Policy("day", 8, 86_400.0)


def run(r: redis.Redis, charges: list[Charge], now_us: int = NOW) -> gcra.Decision:
    return gcra.check(r, gcra.GuardCall(charges, now_us=now_us))


def one(policy: Policy = MINUTE, cost: int = 1, who: str = "alice") -> list[Charge]:
    return [Charge(policy, keys.rate_limit(who, policy.name), cost)]


def test_fresh_identity_gets_the_burst_then_one_per_emission_interval(r: redis.Redis) -> None:
    admitted = [run(r, one()).allowed for _ in range(7)]
    assert admitted == [True] * 5 + [False] * 2
    t = MINUTE.emission_us  # 12 s
    assert not run(r, one(), NOW + t - 1).allowed
    assert run(r, one(), NOW + t).allowed
    assert not run(r, one(), NOW + t).allowed


def test_remaining_reset_and_retry_after(r: redis.Redis) -> None:
    first = run(r, one()).results[0]
    assert (first.passes, first.remaining, first.reset_us) == (True, 4, 12_000_000)
    for _ in range(4):
        run(r, one())
    rejected = run(r, one(), NOW + 1_000_000)
    assert not rejected.allowed
    res = rejected.results[0]
    assert res.remaining == 0
    assert res.retry_after_us == 11_000_000
    assert rejected.retry_after_s == 11


def test_rejections_never_consume_quota(r: redis.Redis) -> None:
    for _ in range(5):
        run(r, one())
    stored = r.get(keys.rate_limit("alice", "minute"))
    for _ in range(50):
        assert not run(r, one()).allowed
    assert r.get(keys.rate_limit("alice", "minute")) == stored


def test_cost_zero_is_a_free_peek(r: redis.Redis) -> None:
    d = run(r, one(cost=0))
    assert d.allowed
    assert d.results[0].remaining == 5
    assert r.exists(keys.rate_limit("alice", "minute")) == 0


def test_a_peek_beside_a_charge_writes_nothing_on_its_own_key(r: redis.Redis) -> None:
    """The web's hit path: token policies peeked at cost 0 beside the request charge."""
    tokens = Policy("tokens", 100, 60.0, unit="tokens")
    run(r, one(tokens, cost=100, who="bob"))  # the token bucket is empty now
    stored = r.get(keys.rate_limit("bob", "tokens"))
    peek_and_charge = one(tokens, cost=0, who="bob") + one(cost=1, who="bob")
    d = run(r, peek_and_charge)
    assert d.allowed  # an empty bucket still passes a cost of 0
    assert d.results[0].remaining == 0
    assert r.get(keys.rate_limit("bob", "tokens")) == stored
    assert r.exists(keys.rate_limit("bob", "minute")) == 1


def test_cost_equal_to_the_limit_passes_once_from_full(r: redis.Redis) -> None:
    assert run(r, one(cost=5)).allowed
    assert not run(r, one(cost=1)).allowed


@pytest.mark.parametrize("cost", [6, 10**6, MAX_COST, 10**30])
def test_cost_above_the_limit_is_never_admitted_and_charges_nothing(
    r: redis.Redis, cost: int
) -> None:
    d = run(r, one(cost=cost))
    assert not d.allowed
    assert d.results[0].retry_after_us == -1
    assert d.retry_after_s is None
    assert r.exists(keys.rate_limit("alice", "minute")) == 0
    assert run(r, one()).results[0].remaining == 4


def test_negative_cost_is_refused_before_redis() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        Charge(MINUTE, "k", -1)
    with pytest.raises(TypeError):
        Charge(MINUTE, "k", 1.5)  # type: ignore[arg-type]


def test_weighted_costs_use_the_same_bucket(r: redis.Redis) -> None:
    assert run(r, one(cost=3)).allowed
    assert not run(r, one(cost=3)).allowed
    assert run(r, one(cost=2)).allowed


def test_day_rejection_leaves_minute_state_unchanged(r: redis.Redis) -> None:
    day_key, minute_key = keys.rate_limit("alice", "day"), keys.rate_limit("alice", "minute")
    both = [Charge(MINUTE, minute_key, 1), Charge(DAY, day_key, 1)]
    now = NOW
    for _ in range(8):  # 8 per day, spread so the minute policy always has room
        assert run(r, both, now).allowed
        now += 60_000_000
    minute_before = r.get(minute_key)
    d = run(r, both, now)
    assert not d.allowed
    assert [x.passes for x in d.results] == [True, False]
    assert r.get(minute_key) == minute_before


def test_minute_rejection_leaves_day_state_unchanged(r: redis.Redis) -> None:
    day_key, minute_key = keys.rate_limit("alice", "day"), keys.rate_limit("alice", "minute")
    big_day = Policy("day", 1000, 86_400.0)
    both = [Charge(MINUTE, minute_key, 1), Charge(big_day, day_key, 1)]
    for _ in range(5):
        assert run(r, both).allowed
    day_before = r.get(day_key)
    d = run(r, both)
    assert not d.allowed
    assert [x.passes for x in d.results] == [False, True]
    assert r.get(day_key) == day_before


def test_shadow_policy_decides_and_reports_but_never_blocks(r: redis.Redis) -> None:
    shadow = Policy("minute", 2, 60.0, mode="shadow")
    outcomes = [run(r, one(shadow)) for _ in range(4)]
    assert all(d.allowed for d in outcomes)
    assert [d.results[0].passes for d in outcomes] == [True, True, False, False]


def test_two_identities_never_affect_each_other(r: redis.Redis) -> None:
    for _ in range(5):
        run(r, one(who="alice"))
    assert not run(r, one(who="alice")).allowed
    assert run(r, one(who="bob")).results[0].remaining == 4


@pytest.mark.parametrize(
    "hostile", ["*", "?", "[a]", "{u:bob}", "a:b", "x" * 10_000, b"\xff\xfe", "bob}:{x"]
)
def test_hostile_identities_get_their_own_hashed_bucket(r: redis.Redis, hostile: str) -> None:
    key = keys.rate_limit(hostile, "minute")
    assert key.count("{") == 1
    assert key.count("}") == 1
    assert len(key) < 80
    for _ in range(5):
        run(r, [Charge(MINUTE, key, 1)])
    assert run(r, one(who="bob")).allowed


def test_key_ttl_is_the_time_until_the_bucket_is_full(r: redis.Redis) -> None:
    d = gcra.check(r, gcra.GuardCall(one(cost=2)))  # server clock
    ttl_ms = r.pttl(keys.rate_limit("alice", "minute"))
    assert d.results[0].reset_us == 24_000_000
    assert 23_000 < ttl_ms <= 24_001  # expires at the TAT, rounded up to the millisecond


def test_script_flush_mid_run_keeps_working(r: redis.Redis) -> None:
    assert run(r, one()).allowed
    r.script_flush()
    assert run(r, one()).results[0].remaining == 3
    r.script_flush()
    assert gcra.check(r, gcra.GuardCall(one(who="bob"))).allowed  # server clock, own bucket


def test_policy_validation() -> None:
    with pytest.raises(ValueError, match="positive"):
        Policy("x", 0, 60.0)
    with pytest.raises(ValueError, match="microsecond"):
        Policy("x", 10**9, 1.0)
    assert Policy("d", 70_000, 86_400.0).emission_us == 1_234_286  # rounded up, never faster
