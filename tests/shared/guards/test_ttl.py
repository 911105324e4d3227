"""After a fuzz run, every guard key has a TTL at least as long as its state needs."""

from __future__ import annotations

import contextlib
import random

import redis

from shared import keys
from shared.guards import gcra, sessions
from shared.guards.policies import Charge, Policy

FUTURE = 4_000_000_000_000_000  # us, year 2096
POLICIES = [Policy("minute", 5, 60.0), Policy("day", 50, 86_400.0), Policy("tokens", 500, 60.0)]


def test_every_key_expires_no_earlier_than_its_state_matters(r: redis.Redis) -> None:
    rng = random.Random(7)
    limits = sessions.SessionLimits(3, 30.0, evict_oldest=True)
    for step in range(600):
        # an explicit clock in the future (1 ms a step): keys cannot expire mid-scan, so the
        # check below compares each expiry with the state it guards, race-free
        now = FUTURE + step * 1_000
        who = f"user{rng.randrange(20)}"
        charges = [
            Charge(p, keys.rate_limit(who, p.name), rng.choice([0, 1, 3, 40, 600]))
            for p in rng.sample(POLICIES, rng.randint(1, 3))
        ]
        res = keys.rate_reservation(who, f"r{step}") if rng.random() < 0.3 else None
        call = gcra.GuardCall(charges, reservation_key=res, reservation_ttl_ms=60_000, now_us=now)
        gcra.check(r, call)
        if res and rng.random() < 0.5:
            gcra.settle(r, charges, res, rng.randrange(100), now_us=now)
        action = rng.random()
        if action < 0.3:
            with contextlib.suppress(sessions.ConcurrencyLimitError):
                sessions.acquire(r, who, f"s{rng.randrange(6)}", limits, now)
        elif action < 0.4:
            sessions.heartbeat(r, who, f"s{rng.randrange(6)}", 30.0, now)
        elif action < 0.5:
            sessions.release(r, who, f"s{rng.randrange(6)}", now)

    seen = 0
    for key in r.scan_iter(match=keys.prefix() + "*", count=500):
        seen += 1
        expire_ms = r.pexpiretime(key)
        assert expire_ms > 0, key  # never persistent
        if b":res:" in key:
            continue  # reservations: a fixed TTL, after which they release themselves
        if r.type(key) == b"zset":
            last_deadline_us = r.zrange(key, -1, -1, withscores=True)[0][1]
            assert expire_ms * 1000 >= last_deadline_us, key
        else:
            assert expire_ms * 1000 >= int(r.get(key)), key  # lives until its TAT
    assert seen > 20
