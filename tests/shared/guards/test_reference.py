"""guard.lua and guard_settle.lua against the pure-Python model, on hypothesis-generated traces,
and the GCRA bound over every trailing window."""

from __future__ import annotations

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import keys
from shared.guards import gcra
from shared.guards.policies import Charge, Policy
from tests.shared.guards.reference import ReferenceGcra

START = 4_000_000_000_000_000  # in the future, so absolute expiries never fire mid-test

policies = st.builds(
    Policy,
    name=st.sampled_from(["a", "b", "c"]),
    limit=st.integers(1, 20),
    window_s=st.sampled_from([0.001, 0.5, 1.0, 7.0, 60.0, 86_400.0]),
    mode=st.sampled_from(["enforce", "enforce", "shadow"]),
)
# Gaps: zero (same microsecond), sub-millisecond, and exact multiples of an emission interval
# (arrivals exactly on the boundaries), mixed with large jumps.
gaps = st.one_of(
    st.just(0),
    st.integers(1, 999),
    st.integers(0, 5_000_000),
    st.integers(1, 4).map(lambda k: k * 1_000_000),
)
steps = st.lists(
    st.tuples(gaps, st.lists(st.integers(0, 25), min_size=3, max_size=3)), min_size=1, max_size=40
)
slow = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _flush(r: redis.Redis) -> None:
    for key in r.scan_iter(match=keys.prefix() + "*"):
        r.delete(key)


@slow
@given(
    pols=st.lists(policies, min_size=1, max_size=3, unique_by=lambda p: p.name),
    trace=steps,
    boundary=st.booleans(),
)
def test_lua_and_model_agree_on_every_decision(
    r: redis.Redis, pols: list[Policy], trace: list[tuple[int, list[int]]], boundary: bool
) -> None:
    _flush(r)
    model = ReferenceGcra()
    now = START
    for gap, costs in trace:
        # boundary traces land on k emission intervals, or one microsecond either side
        now += pols[0].emission_us * (gap % 3) + (gap // 3) % 3 - 1 if boundary else gap
        charges = [
            Charge(p, keys.rate_limit("who", p.name), c) for p, c in zip(pols, costs, strict=False)
        ]
        keys_, args = gcra.GuardCall(charges, now_us=now).keys_and_args()
        reply = [int(x) for x in gcra.lua.script(r, "guard")(keys=keys_, args=args)]
        assert reply == model.check(charges, now)


@slow
@given(limit=st.integers(1, 10), window_ms=st.integers(1, 5_000), trace=steps)
def test_admitted_cost_never_exceeds_burst_plus_elapsed_over_interval(
    r: redis.Redis, limit: int, window_ms: int, trace: list[tuple[int, list[int]]]
) -> None:
    _flush(r)
    policy = Policy("p", limit, window_ms / 1000)
    t = policy.emission_us
    admitted: list[tuple[int, int]] = []
    now = START
    for gap, costs in trace:
        now += gap
        cost = costs[0] % (limit + 2)
        d = gcra.check(
            r, gcra.GuardCall([Charge(policy, keys.rate_limit("w", "p"), cost)], now_us=now)
        )
        if d.allowed and cost:
            admitted.append((now, cost))
    # Over every window [start, end] between two admissions: cost <= L + (end - start) / T.
    for i, (start, _) in enumerate(admitted):
        total = 0
        for end, cost in admitted[i:]:
            total += cost
            assert total <= limit + (end - start) // t


@slow
@given(
    limit=st.integers(1, 50),
    reserve=st.integers(0, 50),
    actual=st.integers(0, 200),
    gap=st.integers(0, 3_000_000),
    second=st.booleans(),
)
def test_settle_matches_the_model(
    r: redis.Redis, limit: int, reserve: int, actual: int, gap: int, second: bool
) -> None:
    _flush(r)
    model = ReferenceGcra()
    pols = [Policy("tokens", limit, 1.0), Policy("model_tokens", limit * 2, 1.0)]
    charges = [Charge(p, keys.rate_limit("who", p.name), reserve) for p in pols]
    res_key = keys.rate_reservation("who", "r1")
    call = gcra.GuardCall(charges, reservation_key=res_key, reservation_ttl_ms=60_000, now_us=START)
    keys_, args = call.keys_and_args()
    reply = [int(x) for x in gcra.lua.script(r, "guard")(keys=keys_, args=args)]
    assert reply == model.check(charges, START, res_key)
    for _ in range(2 if second else 1):
        got = gcra.settle(r, charges, res_key, actual, now_us=START + gap)
        assert got == model.settle(charges, res_key, actual, START + gap)
    after = gcra.GuardCall(
        [Charge(p, c.key, 0) for p, c in zip(pols, charges, strict=True)], now_us=START + gap
    )
    k2, a2 = after.keys_and_args()
    assert [int(x) for x in gcra.lua.script(r, "guard")(keys=k2, args=a2)] == model.check(
        after.charges, START + gap
    )
