"""Invalidating 100k keys among 1M by pattern: ours vs KEYS+DEL, one-pipeline DEL, SCAN+UNLINK.

While each method runs, a separate process GETs an unrelated key every 0.5 ms and records the
latency: p50/p99/max show how long Redis was blocked. Methods are interleaved over rounds on a
private redis-server (refilled with DEBUG POPULATE before every run); medians are reported.
Also: per-user invalidation by generation bump (O(1)) against deleting the user's keys.
Run: `.venv/bin/python -m benchmarks.cache_invalidate [rounds]`.
"""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

import embedded_redis
from benchmarks._util import table

TOTAL, MATCHING = 1_000_000, 100_000
PREFIX = "cb:"
MATCH = f"{PREFIX}cache:r:g:*"


def _prober(url: str, go: Any, stop: Any, out: Any) -> None:
    client = redis.Redis.from_url(url)
    client.set("probe", b"x")
    while not stop.is_set():
        go.wait(0.05)
        lat: list[float] = []
        while go.is_set():
            t0 = time.perf_counter()
            client.get("probe")
            lat.append(time.perf_counter() - t0)
            time.sleep(0.0005)
        if lat:
            out.put(lat)


def _populate(r: redis.Redis[bytes]) -> None:
    r.flushall()
    r.execute_command("DEBUG", "POPULATE", TOTAL - MATCHING, f"{PREFIX}other", 20)
    r.execute_command("DEBUG", "POPULATE", MATCHING, f"{PREFIX}cache:r:g", 20)
    r.set("probe", b"x")


def keys_del(r: redis.Redis[bytes]) -> int:
    found = r.keys(MATCH)
    with r.pipeline(transaction=False) as pipe:
        for i in range(0, len(found), 10_000):
            pipe.delete(*found[i : i + 10_000])
        return sum(pipe.execute())


def pipeline_del(r: redis.Redis[bytes]) -> int:
    """django-redis `delete_pattern`: SCAN every key, then one pipeline of DEL per key."""
    with r.pipeline(transaction=False) as pipe:
        for key in r.scan_iter(match=MATCH, count=1000):
            pipe.delete(key)
        return sum(pipe.execute())


def scan_unlink_loop(r: redis.Redis[bytes]) -> int:
    deleted, cursor = 0, 0
    while True:
        cursor, page = r.scan(cursor=cursor, match=MATCH, count=1000)
        if page:
            deleted += r.unlink(*page)
        if cursor == 0:
            return deleted


def ours(scan_count: int, parallel: int) -> Callable[[redis.Redis[bytes]], int]:
    def run(_r: redis.Redis[bytes]) -> int:
        from shared.cache.invalidate import invalidate_pattern  # noqa: PLC0415
        from shared.redis_client import get_redis  # noqa: PLC0415
        from shared.settings import get_settings  # noqa: PLC0415

        cs = dataclasses.replace(get_settings().cache, scan_count=scan_count, parallel=parallel)
        return int(invalidate_pattern(get_redis(), MATCH, cs)["unlinked"])

    run.__name__ = f"ours (COUNT {scan_count}, {parallel} chain{'s' if parallel > 1 else ''})"
    return run


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def bench_patterns(url: str, rounds: int) -> list[list[object]]:
    r = redis.Redis.from_url(url)
    ctx = mp.get_context("spawn")
    go, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    prober = ctx.Process(target=_prober, args=(url, go, stop, out), daemon=True)
    prober.start()
    methods = [
        keys_del,
        pipeline_del,
        scan_unlink_loop,
        ours(1000, 1),
        ours(1000, 2),
        ours(1000, 4),
        ours(500, 4),
    ]
    results: dict[str, list[tuple[float, ...]]] = {m.__name__: [] for m in methods}
    results["(idle: no invalidation)"] = []
    for _ in range(rounds):
        _populate(r)
        go.set()
        time.sleep(0.5)
        go.clear()
        idle = out.get(timeout=30)
        results["(idle: no invalidation)"].append(
            (0.0, _pct(idle, 0.5) * 1e3, _pct(idle, 0.99) * 1e3, max(idle) * 1e3)
        )
        for method in methods:
            _populate(r)
            time.sleep(0.2)
            go.set()
            time.sleep(0.05)
            t0 = time.perf_counter()
            deleted = method(r)
            elapsed = time.perf_counter() - t0
            time.sleep(0.02)
            go.clear()
            lat = out.get(timeout=30)
            assert deleted == MATCHING, (method.__name__, deleted)
            assert r.dbsize() == TOTAL - MATCHING + 1
            results[method.__name__].append(
                (MATCHING / elapsed, _pct(lat, 0.5) * 1e3, _pct(lat, 0.99) * 1e3, max(lat) * 1e3)
            )
    stop.set()
    prober.join(timeout=5)
    base = statistics.median(x[0] for x in results["keys_del"])
    rows = []
    for name, runs in results.items():
        kps = statistics.median(x[0] for x in runs)
        rows.append(
            [
                name,
                f"{kps:,.0f}" if kps else "",
                f"{kps / base:.2f}" if kps else "",
                f"{statistics.median(x[1] for x in runs):.2f}",
                f"{statistics.median(x[2] for x in runs):.2f}",
                f"{statistics.median(x[3] for x in runs):.1f}",
            ]
        )
    return rows


def bench_generation(url: str) -> list[list[object]]:
    from shared.cache.invalidate import bump_user  # noqa: PLC0415
    from shared.cache.sweep import sweep  # noqa: PLC0415
    from shared.keys import cache_user_entries_pattern  # noqa: PLC0415
    from shared.pipeline import DEFAULT_CHUNK  # noqa: PLC0415
    from shared.redis_client import get_redis  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    r = redis.Redis.from_url(url)
    client = get_redis()
    cs = get_settings().cache
    rows = []
    for n in (10, 10_000, 100_000):
        r.flushall()
        r.execute_command("DEBUG", "POPULATE", 500_000, f"{PREFIX}other", 20)
        r.execute_command("DEBUG", "POPULATE", n, f"{PREFIX}cache:r:{{u:big}}", 20)
        times = []
        for _ in range(200):
            t0 = time.perf_counter()
            bump_user(client, "big", cs)
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        pattern = cache_user_entries_pattern("big")
        gone = sweep(client, pattern, count=1000, batch=DEFAULT_CHUNK)[1].unlinked
        delete_s = time.perf_counter() - t0
        assert gone == n
        rows.append([f"{n:,}", f"{statistics.median(times) * 1e6:.0f}", f"{delete_s * 1e3:.0f}"])
    return rows


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    server = embedded_redis.start(
        Path(tempfile.mkdtemp(prefix="bench-cache-")), extra=("--enable-debug-command", "yes")
    )
    try:
        os.environ.update({"REDIS_URL": f"{server.url}/0", "KEY_PREFIX": PREFIX})
        rows = bench_patterns(f"{server.url}/0", rounds)
        print(f"Invalidating {MATCHING:,} of {TOTAL:,} keys by pattern (median of {rounds}):\n")
        header = ["method", "keys/s", "vs KEYS+DEL", "GET p50 ms", "GET p99 ms", "GET max ms"]
        print(table(header, rows))
        print("\nPer-user invalidation (500k other keys):\n")
        header = ["user's keys", "generation bump µs", "SCAN+UNLINK of the user's keys ms"]
        print(table(header, bench_generation(f"{server.url}/0")))
    finally:
        server.stop()


if __name__ == "__main__":
    main()
