"""The foundation's Redis helpers on standalone Redis and on a 3-primary cluster (`data_plane`).

Every test here would raise CROSSSLOT (or miss keys on two of the three primaries) if a helper
sent one multi-key command across slots or scanned only the node it first talked to.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from redis.cluster import RedisCluster

from shared import health, keys, pipeline, runlock, snapshots
from shared.cache.sweep import sweep
from shared.lua import script
from shared.redis_client import is_cluster
from shared.settings import get_settings


def _keys_per_node(client: Any, match: str) -> dict[str, int]:
    return {
        name: sum(1 for _ in node.scan_iter(match=match, count=500))
        for name, node in pipeline.primaries(client)
    }


def test_the_sweep_visits_every_primary(data_plane: Any) -> None:
    client = data_plane
    pipeline.execute_chunked(client, range(3000), lambda p, i: p.set(f"t:doomed:{i}", 1))
    pipeline.execute_chunked(client, range(50), lambda p, i: p.set(f"t:kept:{i}", 1))
    if is_cluster(client):
        # The keys really are spread: a sweep of one node would leave most of them behind.
        assert all(n > 0 for n in _keys_per_node(client, "t:doomed:*").values())
    _, counts = sweep(client, "t:doomed:*", count=400, batch=300)
    assert counts.unlinked == 3000
    assert sum(_keys_per_node(client, "t:doomed:*").values()) == 0
    assert sum(_keys_per_node(client, "t:kept:*").values()) == 50


def test_resumable_scan_state_names_every_primary(data_plane: Any) -> None:
    client = data_plane
    pipeline.execute_chunked(client, range(2000), lambda p, i: p.set(f"t:k:{i}", 1))
    pages = pipeline.scan_pages(client, "t:k:*", count=100)
    state, first = next(pages)
    saved = pipeline.ScanState.from_json(state.to_json())
    rest = {
        k for _, page in pipeline.scan_pages(client, "t:k:*", count=100, state=saved) for k in page
    }
    assert len(rest | set(first)) == 2000
    assert len(saved.done_nodes) + len(saved.cursors) <= len(pipeline.primaries(client))


def test_queue_unlink_never_spans_slots(data_plane: Any) -> None:
    client = data_plane
    doomed = [f"t:x:{i}" for i in range(200)]
    client.mset(dict.fromkeys(doomed, 1)) if not is_cluster(client) else pipeline.execute_chunked(
        client, doomed, lambda p, k: p.set(k, 1)
    )
    with client.pipeline(transaction=False) as pipe:
        pipeline.queue_unlink(pipe, doomed, cluster=is_cluster(client))
        removed = sum(int(n) for n in pipe.execute())
    assert removed == 200


def test_run_lock_is_exclusive_and_token_owned(data_plane: Any) -> None:
    client = data_plane
    with runlock.run_lock(client, "demo.job", ttl_s=30) as first:
        assert first.acquired
        second = runlock.try_acquire(client, "demo.job", ttl_s=30)
        assert not second.acquired
        assert not second.release()  # a stranger's token never frees the lock
        assert first.held
        assert first.extend(60)
        assert 30_000 < client.pttl(keys.run_lock("demo.job")) <= 60_000
    assert runlock.try_acquire(client, "demo.job", ttl_s=30).acquired


def test_lua_scripts_register_once_and_survive_script_flush(data_plane: Any) -> None:
    client = data_plane
    lock = runlock.try_acquire(client, "demo.flush", ttl_s=30)
    assert script(client, "lock_extend") is script(client, "lock_extend")
    client.script_flush()  # on a cluster: every primary
    assert lock.extend(45)  # NOSCRIPT is answered by reloading, never raised
    assert lock.release()


def test_health_probe_reads_info_from_every_node(data_plane: Any) -> None:
    client = data_plane
    client.set(keys.beat_heartbeat(), repr(time.time()))
    report = health.probe(
        client,
        get_settings(),
        depths=lambda: {"latency": 0},
        unacked=lambda: 0,
        ping=lambda: ["w@h"],
    )
    clients_seen = report["checks"]["redis:connectedClients"][0]["observedValue"]
    assert report["checks"]["redis:memoryUtilization"][0]["status"] in ("pass", "warn")
    if isinstance(client, RedisCluster):
        # Summed over the three primaries: every node holds at least our own connection.
        assert clients_seen >= 3
    health.write_snapshot(client, report, get_settings())
    snap = snapshots.parse(client.get(keys.snapshot(health.SNAPSHOT_NAME)))
    assert snap is not None
    assert snap.data["status"] == report["status"]


@pytest.mark.parametrize("n", [1, 64])
def test_chunked_pipeline_on_any_plane(data_plane: Any, n: int) -> None:
    replies = pipeline.execute_chunked(data_plane, range(n), lambda p, i: p.incr(f"t:c:{i % 7}"))
    assert len(replies) == n
