"""cache.* tasks through a real worker: counts, progress, and resumption after a killed worker."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

from shared import keys
from shared.cache.entry import CacheKey
from shared.cache.invalidate import LEASE_S, lease_name
from shared.cache.store import envelope_for, queue_store
from shared.responder import Reply
from shared.settings import get_settings
from tests.fixtures.processes import spawn_celery

ROOT = Path(__file__).resolve().parents[2]


def _fill(r: redis.Redis, n: int, user: str | None = None) -> None:
    cs = get_settings().cache
    now = time.time()
    with r.pipeline(transaction=False) as pipe:
        for i in range(n):
            key = CacheKey.build(f"q{i}", "demo", template_version="v1", user_id=user)
            env = envelope_for(key, Reply("a", 1, 1), source="live", now=now, settings=cs)
            queue_store(pipe, key, env, gen=0, settings=cs)
        pipe.execute()


def _entries(r: redis.Redis, pattern: str) -> int:
    return sum(1 for _ in r.scan_iter(match=pattern, count=5000))


def test_invalidate_by_user_tag_and_pattern_return_counts(r: redis.Redis, worker: Any) -> None:
    from workers.facade import enqueue  # noqa: PLC0415

    _fill(r, 30, "zoe")
    _fill(r, 20)
    app = worker.app
    user = app.AsyncResult(enqueue("cache.invalidate", user_id="zoe")).get(timeout=30)
    assert (user["kind"], user["unlinked"], user["generation"]) == ("user", 30, 1)
    pattern = keys.cache_namespace() + "r:g:*"
    by_pattern = app.AsyncResult(enqueue("cache.invalidate", pattern=pattern)).get(timeout=30)
    assert by_pattern["unlinked"] == 20
    tag = app.AsyncResult(enqueue("cache.invalidate", tag="model:demo")).get(timeout=30)
    assert tag["kind"] == "tag"
    assert tag["unlinked"] == 0  # every member was already gone
    sweep = app.AsyncResult(enqueue("cache.invalidate")).get(timeout=30)
    assert sweep["kind"] == "sweep"


def test_invalidate_reports_progress_while_it_runs(
    r: redis.Redis, worker: Any, settings_env: pytest.MonkeyPatch
) -> None:
    from shared.settings import reset_settings  # noqa: PLC0415
    from workers.facade import enqueue  # noqa: PLC0415

    settings_env.setenv("CACHE_INVALIDATE_SCAN_COUNT", "10")
    settings_env.setenv("CACHE_INVALIDATE_PAUSE", "20")
    reset_settings()
    _fill(r, 800)
    result = worker.app.AsyncResult(
        enqueue("cache.invalidate", pattern=keys.cache_namespace() + "r:*")
    )
    seen: dict[str, Any] = {}
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and result.state != "SUCCESS":
        if result.state == "PROGRESS":
            seen = dict(result.info)
        time.sleep(0.02)
    assert result.get(timeout=30)["unlinked"] == 800
    assert seen, "no PROGRESS state observed"
    assert 0 <= seen["unlinked"] <= 800
    assert seen["round_trips"] > 0


def _spawn_worker(env: dict[str, str], log: Path, name: str) -> subprocess.Popen[bytes]:
    args = ["worker", "--pool", "solo", "-Q", "latency", "-n", f"{name}@%h", "--loglevel", "INFO"]
    return spawn_celery(args, env, log)


@pytest.mark.faults
def test_a_killed_worker_mid_invalidation_is_resumed_from_its_cursor(
    r: redis.Redis, tmp_path: Path
) -> None:
    from workers.facade import enqueue  # noqa: PLC0415

    _fill(r, 3000)
    pattern = keys.cache_namespace() + "r:g:*"
    chains = {**os.environ, "CACHE_INVALIDATE_PARALLEL": "2"}
    slow = {**chains, "CACHE_INVALIDATE_SCAN_COUNT": "20", "CACHE_INVALIDATE_PAUSE": "10"}
    first = _spawn_worker(slow, tmp_path / "first.log", "doomed")
    try:
        enqueue("cache.invalidate", pattern=pattern)
        deadline = time.monotonic() + 60
        progress: dict[str, Any] = {}
        while time.monotonic() < deadline:
            raw = r.hvals(keys.cache_invalidation_jobs())
            progress = orjson.loads(raw[0])["counts"] if raw else {}
            if progress.get("unlinked", 0) >= 300:
                break
            time.sleep(0.05)
        assert progress.get("unlinked", 0) >= 300, (tmp_path / "first.log").read_text()[-2000:]
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(timeout=10)
    left = _entries(r, pattern)
    assert 0 < left < 3000
    (job_id, raw) = next(iter(r.hgetall(keys.cache_invalidation_jobs()).items()))
    saved = orjson.loads(raw)
    # The dead run's lease lapses (at most LEASE_S); until then nobody resumes its job.
    lease = keys.run_lock(lease_name(job_id.decode()))
    deadline = time.monotonic() + LEASE_S + 10
    while r.exists(lease) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not r.exists(lease)

    second = _spawn_worker(chains, tmp_path / "second.log", "rescuer")
    try:
        from workers.app import app  # noqa: PLC0415

        # The scheduled sweep finds the unfinished job and carries on from its cursor.
        swept = app.AsyncResult(enqueue("cache.invalidate")).get(timeout=60)
    finally:
        second.terminate()
        second.wait(timeout=20)
    assert _entries(r, pattern) == 0
    assert r.hlen(keys.cache_invalidation_jobs()) == 0
    # Counts carry over from the persisted state (work after the last save was unlinked by the
    # dead worker and is not counted twice).
    assert saved["counts"]["unlinked"] <= swept["resumed_unlinked"] <= 3000
    assert swept["resumed_unlinked"] - saved["counts"]["unlinked"] <= left
    # Resumed, not restarted: the cursor was past the start when the worker died.
    starts = {"standalone#0/2": 0, "standalone#1/2": 1}
    assert saved["state"]["cursors"] != starts
    assert set(saved["state"]["cursors"]) | set(saved["state"]["done"]) == set(starts)
