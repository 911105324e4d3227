"""Invalidation: isolation between users, hostile ids, tags, patterns, resumption."""

from __future__ import annotations

import time
from typing import Any

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import keys
from shared.cache import invalidate as inv
from shared.cache.entry import CacheKey
from shared.cache.store import envelope_for, queue_store, queue_tag
from shared.responder import Reply
from shared.settings import get_settings

HOSTILE = [
    "*",
    "user:*",
    "a*",
    "[a-z]*",
    "?",
    "\\",
    "{u:bob}",
    "bob}",
    "b*b",
    "",
    "x" * 300,
    "\ud800",
]


def _fill(
    r: redis.Redis, users: list[str | None], per_user: int, tags: tuple[str, ...] = ()
) -> None:
    cs = get_settings().cache
    now = time.time()
    with r.pipeline(transaction=False) as pipe:
        for user in users:
            for i in range(per_user):
                key = CacheKey.build(f"question {i}", "demo", template_version="v1", user_id=user)
                env = envelope_for(
                    key, Reply(f"a{i}", 1, 1), source="live", now=now, settings=cs, tags=tags
                )
                queue_store(pipe, key, env, gen=0, settings=cs)
        pipe.execute()


def _snapshot(r: redis.Redis) -> dict[bytes, bytes]:
    """Every string key and its value (entries, texts, generations)."""
    names = list(r.scan_iter(count=5000, _type="STRING"))
    out: dict[bytes, bytes] = {}
    for i in range(0, len(names), 1000):
        part = names[i : i + 1000]
        out.update(zip(part, r.mget(part), strict=True))
    return out


def test_invalidating_one_of_100_users_leaves_every_other_key(r: redis.Redis) -> None:
    cs = get_settings().cache
    users: list[str | None] = [f"user{i}" for i in range(100)]
    _fill(r, users, 100)
    before = _snapshot(r)
    victim = keys.cache_entries_prefix() + "{u:user42}:"
    assert sum(k.decode().startswith(victim) for k in before) == 100

    result = inv.invalidate_user(r, "user42", cs)

    assert result["unlinked"] == 100
    after = _snapshot(r)
    expected = {k: v for k, v in before.items() if not k.decode().startswith(victim)}
    gen_key = keys.cache_user_generation("user42").encode()
    assert after.pop(gen_key) == b"1"
    assert after == expected  # 9,900 other entries untouched, byte for byte
    assert not r.sismember(keys.cache_users_to_reap(), "user42")


@pytest.mark.parametrize("hostile", [h for h in HOSTILE if h])
def test_a_hostile_user_id_invalidates_exactly_that_user(r: redis.Redis, hostile: str) -> None:
    cs = get_settings().cache
    others: list[str | None] = ["bob", "alice", "user:1", "a", "ab", "b", None]
    _fill(r, [*others, hostile], 5)
    before = _snapshot(r)
    mine = CacheKey.build("question 0", "demo", template_version="v1", user_id=hostile).entry

    result = inv.invalidate_user(r, hostile, cs)

    assert result["unlinked"] == 5
    assert not r.exists(mine)
    after = _snapshot(r)
    own = mine.rsplit(":", 1)[0] + ":"
    expected = {k: v for k, v in before.items() if not k.decode().startswith(own)}
    assert len(expected) == len(before) - 5
    assert after.pop(keys.cache_user_generation(hostile).encode()) == b"1"
    assert after == expected  # every other key intact, byte for byte


def test_reaper_spares_entries_written_after_the_bump(r: redis.Redis) -> None:
    cs = get_settings().cache
    _fill(r, ["carol"], 10)
    inv.bump_user(r, "carol", cs)
    fresh = CacheKey.build("fresh", "demo", template_version="v1", user_id="carol")
    env = envelope_for(fresh, Reply("new", 1, 1), source="live", now=time.time(), settings=cs)
    with r.pipeline(transaction=False) as pipe:
        queue_store(pipe, fresh, env, gen=1, settings=cs)
        pipe.execute()
    assert inv.reap_user(r, "carol", cs)["unlinked"] == 10
    assert r.exists(fresh.entry)


def test_generation_outlives_every_entry(r: redis.Redis) -> None:
    cs = get_settings().cache
    _fill(r, ["dave"], 3)
    inv.bump_user(r, "dave", cs)
    entries = list(r.scan_iter(match=keys.cache_user_entries_pattern("dave")))
    gen_ttl = r.pttl(keys.cache_user_generation("dave"))
    assert entries
    assert all(gen_ttl > r.pttl(e) for e in entries)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ttls_s=st.lists(st.integers(min_value=1, max_value=100_000), min_size=1, max_size=12))
def test_tag_set_expiry_never_shortens(r: redis.Redis, ttls_s: list[int]) -> None:
    r.flushdb()
    tag_key = keys.cache_tag("topic")
    for i, ttl_s in enumerate(ttls_s):
        member = f"{keys.cache_entries_prefix()}g:m{i}"
        with r.pipeline(transaction=False) as pipe:
            pipe.set(member, b"x", px=ttl_s * 1000)
            queue_tag(pipe, "topic", member, ttl_s)
            pipe.execute()
        members = list(r.smembers(tag_key))
        # The set outlives every member it holds, after every single store.
        assert r.pttl(tag_key) >= max(r.pttl(m) for m in members)


def test_tag_invalidation_and_dead_member_prune(r: redis.Redis) -> None:
    cs = get_settings().cache
    _fill(r, [None, "erin"], 20, tags=("billing",))
    _fill(r, ["frank"], 5)  # untagged beyond the automatic tags
    tag_key = keys.cache_tag("billing")
    assert r.scard(tag_key) == 40

    result = inv.invalidate_tag(r, "billing", cs)

    assert result["unlinked"] == 40
    assert r.scard(tag_key) == 0
    assert len(list(r.scan_iter(match=keys.cache_user_entries_pattern("frank")))) == 5
    # The model tag still lists the 40 unlinked entries: the prune drops exactly those.
    model_tag = keys.cache_tag("model:demo")
    assert r.scard(model_tag) == 45
    pruned = inv.prune_tags(r, cs)
    assert pruned["removed"] >= 40
    assert r.scard(model_tag) == 5


@pytest.mark.parametrize(
    "pattern",
    [
        "*",
        "**",
        "t:*",
        "t:cache:*",
        "t:cache:?*",
        "other:*",
        "*t:cache:r:*",
        "t:cache:*r*",
        "",
        "cache:r:*",
    ],
)
def test_patterns_outside_or_matching_everything_are_refused(pattern: str) -> None:
    with pytest.raises(inv.InvalidPattern):
        inv.validate_pattern(pattern)


def test_pattern_unlinks_only_matching_answer_entries(r: redis.Redis) -> None:
    cs = get_settings().cache
    _fill(r, [None, "gina", "hank"], 30)
    r.set(keys.cache_user_generation("gina"), 0)
    before = _snapshot(r)
    pattern = keys.cache_namespace() + "r:{u:gina}:*"
    result = inv.invalidate_pattern(r, pattern, cs)
    assert result["unlinked"] == 30
    gone = {k for k in before if k.decode().startswith(keys.cache_entries_prefix() + "{u:gina}:")}
    assert set(before) - set(_snapshot(r)) == gone
    # A wide pattern still never touches generations, texts or stats: only answers.
    inv.invalidate_pattern(r, keys.cache_namespace() + "r*", cs)
    assert r.exists(keys.cache_user_generation("gina"))
    assert not list(r.scan_iter(match=keys.cache_entries_prefix() + "*"))
    assert list(r.scan_iter(match=keys.cache_namespace() + "q:*"))


def test_pattern_job_resumes_from_its_cursor_after_a_crash(
    r: redis.Redis, settings_env: pytest.MonkeyPatch
) -> None:
    from shared.settings import reset_settings  # noqa: PLC0415

    settings_env.setenv("CACHE_INVALIDATE_SCAN_COUNT", "20")
    settings_env.setattr(inv, "PERSIST_EVERY_S", 0.0)  # persist (and report) every round trip
    reset_settings()
    cs = get_settings().cache
    _fill(r, [None], 1500)
    pattern = keys.cache_namespace() + "r:g:*"

    class Crash(Exception):
        pass

    def crash(meta: dict[str, Any]) -> None:
        if meta["round_trips"] >= 5:
            raise Crash

    with pytest.raises(Crash):
        inv.invalidate_pattern(r, pattern, cs, crash)
    saved = r.hgetall(keys.cache_invalidation_jobs())
    assert len(saved) == 1
    left = len(list(r.scan_iter(match=pattern)))
    assert 0 < left < 1500

    result = inv.invalidate_pattern(r, pattern, cs)

    assert result["resumed"] is True
    assert not list(r.scan_iter(match=pattern))
    assert result["unlinked"] == 1500
    assert r.hlen(keys.cache_invalidation_jobs()) == 0


def test_sweep_resumes_unfinished_jobs_and_reaps_users(r: redis.Redis) -> None:
    cs = get_settings().cache
    _fill(r, [None, "ivan"], 10)
    inv.bump_user(r, "ivan", cs)
    pattern = keys.cache_namespace() + "r:g:*"
    # An unfinished job as a dead worker leaves it: spec and a cursor at the start.
    job_id = inv._job_id("pattern", pattern)
    job = inv._Job(r, job_id, {"kind": "pattern", "pattern": pattern}, ttl_s=cs.job_ttl_s)
    job.save(force=True)
    result = inv.sweep_all(r, cs)
    assert result["resumed_unlinked"] == 10
    assert result["reaped"] == 10
    assert not list(r.scan_iter(match=keys.cache_entries_prefix() + "*"))


def test_a_live_run_holds_its_job(r: redis.Redis) -> None:
    from shared.runlock import try_acquire  # noqa: PLC0415

    cs = get_settings().cache
    _fill(r, [None], 10)
    pattern = keys.cache_namespace() + "r:g:*"
    live = try_acquire(r, inv.lease_name(inv._job_id("pattern", pattern)), 30)
    assert live.acquired
    assert inv.invalidate_pattern(r, pattern, cs)["skipped"] == "running"
    assert len(list(r.scan_iter(match=pattern))) == 10
    live.release()
    assert inv.invalidate_pattern(r, pattern, cs)["unlinked"] == 10


def test_an_abandoned_cursor_expires_after_the_job_ttl(
    r: redis.Redis, settings_env: pytest.MonkeyPatch
) -> None:
    from shared.settings import reset_settings  # noqa: PLC0415

    settings_env.setenv("CACHE_INVALIDATE_JOB_TTL", "120")
    settings_env.setenv("CACHE_INVALIDATE_SCAN_COUNT", "20")
    settings_env.setattr(inv, "PERSIST_EVERY_S", 0.0)
    reset_settings()
    cs = get_settings().cache
    _fill(r, [None], 300)
    jobs = keys.cache_invalidation_jobs()

    saves: list[int] = []

    def crash_after_two_saves(meta: dict[str, Any]) -> None:
        saves.append(meta["round_trips"])
        if len(saves) == 1:
            r.pexpire(jobs, 5_000)  # an older TTL: the next save must start it again
        else:
            raise RuntimeError("worker killed")

    with pytest.raises(RuntimeError):
        inv.invalidate_pattern(r, keys.cache_namespace() + "r:g:*", cs, crash_after_two_saves)

    assert r.hlen(jobs) == 1  # the cursor is there to resume from ...
    assert 110_000 < r.pttl(jobs) <= 120_000  # ... and goes if nobody resumes it
