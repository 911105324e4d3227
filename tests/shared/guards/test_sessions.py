"""Session sets: acquire, heartbeat, release, eviction, idempotence, expiry, sweep."""

from __future__ import annotations

import pytest
import redis

from shared import keys
from shared.guards import sessions
from shared.guards.sessions import ConcurrencyLimitError, SessionLimits

NOW = 4_000_000_000_000_000  # explicit clock (us, year 2096): keys expire at absolute times
LIM = SessionLimits(2, 10.0)


def test_acquire_up_to_the_limit_then_reject_newest(r: redis.Redis) -> None:
    sessions.acquire(r, "u", "a", LIM, NOW)
    sessions.acquire(r, "u", "b", LIM, NOW + 1_000_000)
    with pytest.raises(ConcurrencyLimitError, match="2 live sessions") as err:
        sessions.acquire(r, "u", "c", LIM, NOW + 2_000_000)
    assert err.value.retry_after_us == 8_000_000  # until "a" expires
    assert set(r.zrange(keys.sessions("u"), 0, -1)) == {b"a", b"b"}


def test_reacquiring_the_same_id_is_idempotent(r: redis.Redis) -> None:
    sessions.acquire(r, "u", "a", LIM, NOW)
    sessions.acquire(r, "u", "b", LIM, NOW)
    again = sessions.acquire(r, "u", "a", LIM, NOW + 5)
    assert again.renewed
    assert again.deadline_us == NOW + 5 + 10_000_000
    assert r.zcard(keys.sessions("u")) == 2


def test_evict_oldest_makes_room(r: redis.Redis) -> None:
    evict = SessionLimits(2, 10.0, evict_oldest=True)
    sessions.acquire(r, "u", "a", evict, NOW)
    sessions.acquire(r, "u", "b", evict, NOW + 1)
    got = sessions.acquire(r, "u", "c", evict, NOW + 2)
    assert got.evicted == ["a"]
    assert sessions.heartbeat(r, "u", "a", 10.0, NOW + 3) is None  # evicted: lost, not revived
    assert r.zscore(keys.sessions("u"), "a") is None


def test_expired_sessions_free_their_slot_without_any_sweep(r: redis.Redis) -> None:
    sessions.acquire(r, "u", "a", LIM, NOW)
    sessions.acquire(r, "u", "b", LIM, NOW)
    sessions.acquire(r, "u", "c", LIM, NOW + 10_000_000)  # both expired exactly at the deadline
    assert set(r.zrange(keys.sessions("u"), 0, -1)) == {b"c"}


def test_heartbeat_extends_only_a_live_session(r: redis.Redis) -> None:
    sessions.acquire(r, "u", "a", LIM, NOW)
    assert sessions.heartbeat(r, "u", "a", 10.0, NOW + 9_000_000) == NOW + 19_000_000
    assert sessions.heartbeat(r, "u", "a", 10.0, NOW + 19_000_000) is None  # expired
    assert r.zscore(keys.sessions("u"), "a") is None
    assert sessions.heartbeat(r, "u", "never", 10.0, NOW) is None
    assert r.zscore(keys.sessions("u"), "never") is None


def test_release_by_id_is_idempotent(r: redis.Redis) -> None:
    sessions.acquire(r, "u", "a", LIM, NOW)
    assert sessions.release(r, "u", "a", NOW + 1) is True
    assert sessions.release(r, "u", "a", NOW + 2) is False
    assert sessions.heartbeat(r, "u", "a", 10.0, NOW + 3) is None
    assert r.exists(keys.sessions("u")) == 0


def test_the_set_ttl_covers_the_last_deadline(r: redis.Redis) -> None:
    sessions.acquire(r, "u", "a", SessionLimits(2, 30.0))
    assert 29_000 < r.pttl(keys.sessions("u")) <= 30_001


@pytest.mark.parametrize("bad", ["", "x" * 129])
def test_session_ids_are_bounded(r: redis.Redis, bad: str) -> None:
    with pytest.raises(ValueError, match="characters"):
        sessions.acquire(r, "u", bad, LIM)


# Glob and hash-tag characters, separators, a lone surrogate, and long ids that differ only in
# their last character: all of them reach the key as a digest, which must not collide.
HOSTILE_USERS = [
    "*", "?", "[u]", "\\", "{u:x}", "a:b", "\ud800", "x" * 10_000, "x" * 9_999 + "y",
    "x" * 65, "x" * 64 + "~", "u*", "x",
]  # fmt: skip


def test_users_are_isolated_even_with_hostile_ids(r: redis.Redis) -> None:
    own = {user: {f"s{n}-a", f"s{n}-b"} for n, user in enumerate(HOSTILE_USERS)}
    for user, ids in own.items():
        for sid in sorted(ids):
            sessions.acquire(r, user, sid, LIM, NOW)  # at its own limit, never at another's
    # One set per user: colliding keys would merge sets and reject an acquire above.
    stored = {key: {m.decode() for m in r.zrange(key, 0, -1)} for key in r.scan_iter()}
    assert sorted(stored.values(), key=sorted) == sorted(own.values(), key=sorted)
    for user, ids in own.items():
        assert {m.decode() for m in r.zrange(keys.sessions(user), 0, -1)} == ids
        with pytest.raises(ConcurrencyLimitError):
            sessions.acquire(r, user, "one-too-many", LIM, NOW + 1)
    # Another user's session id is unknown here: not renewed, not released.
    assert sessions.heartbeat(r, "*", "s1-a", 10.0, NOW + 2) is None
    assert sessions.release(r, "?", "s0-a", NOW + 2) is False
    assert r.zscore(keys.sessions("*"), "s0-a") is not None


def test_sweep_removes_expired_members_everywhere_and_counts_live(r: redis.Redis) -> None:
    for i in range(30):
        sessions.acquire(r, f"user{i}", "old", SessionLimits(5, 1.0), NOW)
        if i % 3 == 0:
            sessions.acquire(r, f"user{i}", "new", SessionLimits(5, 60.0), NOW)
    report = sessions.sweep(r, batch=7, now_us=NOW + 2_000_000)
    assert (report.users, report.active, report.removed) == (10, 10, 30)
    assert sessions.sweep(r, now_us=NOW + 2_000_000).removed == 0
