"""Invalidation: per user (generation bump + reaper), per tag, and by pattern (resumable sweep).

Every function returns counts and reports progress through `progress(meta)` while it runs.
Pattern and reap jobs persist their cursor in `P cache:inv:jobs`, so a run killed with its
worker resumes where it stopped: the same request again, or the scheduled sweep, picks it up.
The hash expires `CACHE_INVALIDATE_JOB_TTL` after the last save, so cursors of jobs nobody
resumes do not stay in Redis forever.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

import orjson

from shared import keys
from shared.cache.store import GEN_MARGIN_S, max_entry_ttl_s
from shared.cache.sweep import SweepCounts, sweep
from shared.lua import script
from shared.pipeline import ScanState, chunked, queue_unlink, scan_pages
from shared.redis_client import RedisClient, as_bytes, is_cluster
from shared.runlock import try_acquire
from shared.settings.cache import CacheSettings

Progress = Callable[[dict[str, Any]], None]
_WILDCARD_ONLY = re.compile(r"[*?]*")
PERSIST_EVERY_S = 0.2  # a crash redoes at most this much work
LEASE_S = 10.0  # how long a dead run keeps its job from being resumed


class InvalidPattern(ValueError):
    """The pattern would reach outside the cache, or match everything in it."""


def _noop(_: dict[str, Any]) -> None:
    return None


def validate_pattern(pattern: str) -> str:
    """The SCAN MATCH pattern for an operator's `pattern`, or `InvalidPattern`.

    The pattern must start with the cache namespace (`<KEY_PREFIX>cache:`) literally, followed
    by a literal character: `*`, `<prefix>*`, `<prefix>cache:*` or `<prefix>cache:*r*` are
    refused. The namespace
    part is glob-escaped, so a KEY_PREFIX containing glob characters cannot widen the match.
    Only answer entries (`<prefix>cache:r:`) are ever unlinked, whatever the pattern.
    """
    namespace = keys.cache_namespace()
    if not pattern.startswith(namespace):
        raise InvalidPattern(f"pattern must start with {namespace!r} (the cache's key prefix)")
    rest = pattern[len(namespace) :]
    if _WILDCARD_ONLY.fullmatch(rest) or rest[0] in "*?[":
        raise InvalidPattern("pattern matches every cache key; name what to invalidate")
    if len(pattern) > 512:
        raise InvalidPattern("pattern longer than 512 characters")
    return keys.glob_escape(namespace) + rest


def lease_name(job_id: str) -> str:
    """The run-lock name that a live run of `job_id` holds (`shared.runlock`)."""
    return f"cache.invalidate:{job_id}"


def _job_id(kind: str, subject: str) -> str:
    digest = hashlib.blake2b(subject.encode("utf-8", "surrogatepass"), digest_size=12)
    return f"{kind}:{digest.hexdigest()}"


def _entry_filter() -> Callable[[bytes], bool]:
    entries = keys.cache_entries_prefix().encode()
    return lambda key: key.startswith(entries)


class _Job:
    """The persisted cursor and counts of one resumable job."""

    def __init__(
        self, client: RedisClient, job_id: str, spec: dict[str, Any], *, ttl_s: float
    ) -> None:
        self.client, self.job_id, self.spec, self.ttl_s = client, job_id, spec, ttl_s
        raw = client.hget(keys.cache_invalidation_jobs(), job_id)
        saved = orjson.loads(raw) if raw else {}
        self.resumed = bool(saved)
        self.state = ScanState.from_json(saved.get("state"))
        self.counts = SweepCounts(**saved.get("counts", {}))
        self._last = 0.0

    def save(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < PERSIST_EVERY_S:
            return
        self._last = now
        doc = {**self.spec, "state": self.state.to_json(), "counts": self.counts.to_json()}
        jobs = keys.cache_invalidation_jobs()
        # One transaction: a cursor is never saved without the TTL that lets it go.
        with self.client.pipeline(transaction=True) as pipe:
            pipe.hset(jobs, self.job_id, orjson.dumps(doc))
            pipe.expire(jobs, max(1, int(self.ttl_s)))
            pipe.execute()

    def finish(self) -> None:
        self.client.hdel(keys.cache_invalidation_jobs(), self.job_id)

    def report(self, kind: str) -> dict[str, Any]:
        return {"kind": kind, "job": self.job_id, "resumed": self.resumed, **self.counts.to_json()}


def invalidate_pattern(
    client: RedisClient, pattern: str, settings: CacheSettings, progress: Progress = _noop
) -> dict[str, Any]:
    """UNLINK every answer entry matching `pattern`, resumably, in bounded paced batches.

    Raises:
        InvalidPattern: the pattern is outside the cache namespace or matches all of it.
    """
    match = validate_pattern(pattern)
    job_id = _job_id("pattern", pattern)
    # A live run of the same job holds the lease; a dead one's lease lapses within LEASE_S,
    # after which this request (or the scheduled sweep) resumes from the persisted cursor.
    lease = try_acquire(client, lease_name(job_id), LEASE_S)
    if not lease.acquired:
        return {"kind": "pattern", "pattern": pattern, "job": job_id, "skipped": "running"}
    try:
        spec = {"kind": "pattern", "pattern": pattern}
        job = _Job(client, job_id, spec, ttl_s=settings.job_ttl_s)

        def on_page(_: ScanState, __: SweepCounts) -> None:
            before = job._last
            job.save()
            if job._last != before:
                lease.extend(LEASE_S)
                progress({**job.report("pattern"), "pattern": pattern})

        sweep(
            client,
            match,
            count=settings.scan_count,
            batch=settings.unlink_batch,
            pause_ms=settings.pause_ms,
            parallel=settings.parallel,
            doomed=_entry_filter(),
            state=job.state,
            counts=job.counts,
            on_page=on_page,
        )
        job.finish()
    finally:
        lease.release()
    return {**job.report("pattern"), "pattern": pattern}


def bump_user(client: RedisClient, user_id: str, settings: CacheSettings) -> int:
    """Retire every answer of `user_id` in O(1): INCR of the user's generation (Lua, with a TTL
    longer than any entry), and the user queued for the reaper. Returns the new generation."""
    ttl_ms = int((max_entry_ttl_s(settings) + GEN_MARGIN_S) * 1000)
    gen = script(client, "cache_gen_bump")(
        keys=[keys.cache_user_generation(user_id)], args=[ttl_ms]
    )
    client.sadd(keys.cache_users_to_reap(), user_id.encode("utf-8", "surrogatepass"))
    return int(gen)


def reap_user(
    client: RedisClient, user_id: str, settings: CacheSettings, progress: Progress = _noop
) -> dict[str, Any]:
    """Unlink the user's entries from older generations (SCAN of the user's own pattern; the
    generation check is atomic per page in `cache_reap.lua`)."""
    gen_key = keys.cache_user_generation(user_id)
    reap = script(client, "cache_reap")
    job_id = _job_id("reap", keys.safe_id(user_id))
    job = _Job(client, job_id, {"kind": "reap"}, ttl_s=settings.job_ttl_s)
    pattern = keys.cache_user_entries_pattern(user_id)
    for state, page in scan_pages(client, pattern, count=settings.scan_count, state=job.state):
        job.counts.round_trips += 1
        job.counts.scanned += len(page)
        for part in chunked(page, settings.unlink_batch):
            job.counts.unlinked += int(reap(keys=[gen_key, *part]))
        job.state = state
        job.save()
        if settings.pause_ms:
            time.sleep(settings.pause_ms / 1000)
    job.finish()
    client.srem(keys.cache_users_to_reap(), user_id.encode("utf-8", "surrogatepass"))
    report = job.report("reap")
    progress(report)
    return report


def invalidate_user(
    client: RedisClient, user_id: str, settings: CacheSettings, progress: Progress = _noop
) -> dict[str, Any]:
    """Bump the user's generation (the answers are gone from now on), then reclaim memory."""
    gen = bump_user(client, user_id, settings)
    progress({"kind": "user", "generation": gen, "unlinked": 0})
    reaped = reap_user(client, user_id, settings, progress)
    return {**reaped, "kind": "user", "generation": gen}


def invalidate_tag(
    client: RedisClient, tag: str, settings: CacheSettings, progress: Progress = _noop
) -> dict[str, Any]:
    """UNLINK every entry in the tag set and remove it from the set, page by page (SSCAN)."""
    tag_key = keys.cache_tag(tag)
    cluster = is_cluster(client)
    counts = SweepCounts()
    cursor = 0
    while True:
        cursor, members = client.sscan(tag_key, cursor=cursor, count=settings.unlink_batch)
        counts.round_trips += 1
        counts.scanned += len(members)
        if members:
            with client.pipeline(transaction=False) as pipe:
                n_unlinks = queue_unlink(pipe, members, cluster=cluster)
                pipe.srem(tag_key, *members)
                replies = pipe.execute()
            counts.unlinked += sum(int(n) for n in replies[:n_unlinks])
            progress({"kind": "tag", "tag": tag, **counts.to_json()})
        if cursor == 0:
            break
        if settings.pause_ms:
            time.sleep(settings.pause_ms / 1000)
    return {"kind": "tag", "tag": tag, **counts.to_json()}


def prune_tags(client: RedisClient, settings: CacheSettings) -> dict[str, int]:
    """Remove dead members (expired entries) from every tag set; standalone Redis only."""
    if is_cluster(client):
        return {"tags": 0, "removed": 0}  # the sets' own TTL reclaims them (see the Lua header)
    prune = script(client, "cache_tag_prune")
    tags = removed = 0
    for _, page in scan_pages(client, keys.cache_tags_pattern(), count=settings.scan_count):
        for tag_key in page:
            tags += 1
            cursor = 0
            while True:
                cursor, members = client.sscan(tag_key, cursor=cursor, count=settings.unlink_batch)
                if members:
                    removed += int(prune(keys=[tag_key, *members]))
                if cursor == 0:
                    break
    return {"tags": tags, "removed": removed}


def sweep_all(
    client: RedisClient, settings: CacheSettings, progress: Progress = _noop
) -> dict[str, Any]:
    """The scheduled sweep: resume unfinished pattern jobs, reap bumped users, prune tag sets."""
    resumed = reaped = 0
    for raw in client.hvals(keys.cache_invalidation_jobs()):
        spec = orjson.loads(raw)
        if spec.get("kind") == "pattern":
            done = invalidate_pattern(client, spec["pattern"], settings, progress)
            resumed += int(done.get("unlinked", 0))  # 0 when a live run holds the job
    for raw_user in client.smembers(keys.cache_users_to_reap()):
        user = as_bytes(raw_user).decode("utf-8", "surrogatepass")
        reaped += int(reap_user(client, user, settings, progress)["unlinked"])
    tags = prune_tags(client, settings)
    return {"kind": "sweep", "resumed_unlinked": resumed, "reaped": reaped, **tags}
