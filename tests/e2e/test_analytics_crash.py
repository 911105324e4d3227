"""A real worker killed with SIGKILL mid-batch: after a restart the totals equal the events sent.

The rollup commits each batch's counters and its XACK in one MULTI/EXEC, so a worker that dies
while a batch is in flight leaves that batch pending with no counter touched; the next worker
reclaims it with XAUTOCLAIM. Bounded: every wait has a deadline.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import redis

from shared import keys
from shared.analytics.events import event_fields
from shared.analytics.rollup import GROUP
from tests.fixtures.processes import spawn_celery

pytestmark = [pytest.mark.e2e, pytest.mark.faults]
ROOT = Path(__file__).resolve().parents[2]
EVENTS = 60_000
WORKER_ARGS = ["worker", "--pool", "threads", "-c", "1", "--loglevel", "INFO"]
WORKER_ARGS += ["--without-heartbeat", "--without-mingle", "--without-gossip"]
ENV = {"ANALYTICS_BATCH_SIZE": "200", "ANALYTICS_CLAIM_IDLE": "0.2", "CELERY_TASK_EVENTS": "0"}


def _worker(tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    args = [*WORKER_ARGS, "-n", f"{name}@%h"]
    return spawn_celery(args, {**os.environ, **ENV}, tmp_path / f"{name}.log")


def _group(r: redis.Redis) -> dict[str, Any]:
    for group in r.xinfo_groups(keys.events_stream()):
        if group["name"] in (GROUP, GROUP.encode()):
            return dict(group)
    return {}


def _total(r: redis.Redis) -> int:
    return int(r.hget(keys.analytics_totals(), "msg") or 0)


def _send_events(r: redis.Redis) -> None:
    for start in range(0, EVENTS, 5000):
        with r.pipeline(transaction=False) as pipe:
            for i in range(start, start + 5000):
                fields = event_fields(user_id=f"user{i % 500}", model="demo", prompt_tokens=1,
                                      completion_tokens=2, latency_ms=5)  # fmt: skip
                pipe.xadd(keys.events_stream(), fields)  # type: ignore[arg-type]
            pipe.execute()


def _kill_mid_batch(r: redis.Redis, tmp_path: Path, name: str) -> int:
    """Start a worker, trigger a rollup, SIGKILL it while a batch is read but not committed.

    Returns how many entries the dead consumer left pending.
    """
    from workers import app  # noqa: PLC0415

    r.delete(keys.run_lock("analytics.rollup"))  # a previous attempt's dead run held it
    started_at = _total(r)
    worker = _worker(tmp_path, name)
    try:
        app.send_task("analytics.rollup")
        deadline = time.monotonic() + 60
        while True:
            if _group(r).get("pending", 0) > 0 and started_at < _total(r) < EVENTS // 2:
                os.kill(worker.pid, signal.SIGKILL)
                break
            assert worker.poll() is None, (tmp_path / f"{name}.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the rollup never started"
            time.sleep(0.001)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    return int(_group(r)["pending"])


def test_sigkill_mid_batch_then_restart_counts_every_event_once(
    r: redis.Redis, tmp_path: Path
) -> None:
    from workers import app  # noqa: PLC0415

    _send_events(r)
    in_flight = 0
    for attempt in range(3):  # the kill can land just after a commit; then try again
        in_flight = _kill_mid_batch(r, tmp_path, f"doomed{attempt}")
        if in_flight:
            break
    assert in_flight > 0, "three kills landed between batches; none had a batch in flight"
    assert 0 < _total(r) < EVENTS

    # The dead run's lock would expire after its TTL (the task's time limit); take that as done.
    r.delete(keys.run_lock("analytics.rollup"))
    second = _worker(tmp_path, "survivor")
    try:
        deadline = time.monotonic() + 90
        while _total(r) < EVENTS or _group(r)["pending"] or _group(r).get("lag"):
            assert time.monotonic() < deadline, (_total(r), _group(r))
            # One run at a time from here; each reclaims what the dead consumer left pending.
            app.send_task("analytics.rollup").get(timeout=60)
            time.sleep(0.2)
    finally:
        second.terminate()
        second.wait(timeout=30)
    assert _total(r) == EVENTS  # exactly: nothing lost, nothing counted twice
    assert int(r.hget(keys.analytics_totals(), "msg:m:demo") or 0) == EVENTS
    [(first_id, _)] = r.xrange(keys.events_stream(), count=1)
    day = int(first_id.split(b"-")[0]) // 1000 // 86_400 * 86_400
    assert abs(r.pfcount(keys.analytics_hll("day", day)) - 500) <= 10  # HLL error bound
