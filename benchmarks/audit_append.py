"""The audit append's cost on the request path, side by side with the seed plan.

Compared, per request, on the asyncio client the web uses (loopback Redis, one connection):

- `guard only`: a request pipeline without auditing (the floor: one round trip);
- `guard + queue_event`: the same pipeline with the audit XADD queued on it (`queue_fields`;
  a caller that already has a pipeline; the web itself calls `alog_event`);
- `guard, then log_event`: a separate round trip for the audit (what a naive caller pays);
- `seed: ZADD + ZREMRANGEBYRANK`: the seed plan's sorted set capped at AUDIT_MAX_EVENTS, queued
  on the same pipeline (the baseline; it loses events by design).

    .venv/bin/python -m benchmarks.audit_append [requests]
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

import embedded_redis


async def _measure(n: int) -> dict[str, float]:
    from shared import audit, keys  # noqa: PLC0415
    from shared.redis_client import build_async_client  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    client: Any = build_async_client(get_settings().conn)
    details = {"policy": "chat", "limit": 100, "path": "/chat", "api_key": "sk-" + "x" * 20}
    seed_key = "bench:seed:audit"

    async def guard_only() -> None:
        async with client.pipeline(transaction=False) as pipe:
            pipe.incr("bench:guard")
            await pipe.execute()

    async def with_queue_event() -> None:
        async with client.pipeline(transaction=False) as pipe:
            pipe.incr("bench:guard")
            audit.queue_fields(
                pipe, audit.event_fields("guard.rejected", "user:alice", details, ip="192.0.2.1")
            )
            await pipe.execute()

    async def separate_round_trip() -> None:
        await guard_only()
        fields = audit.event_fields("guard.rejected", "user:alice", details, ip="192.0.2.1")
        await client.xadd(keys.audit_stream(), fields)

    async def seed_zset() -> None:
        member = orjson.dumps(
            {"t": "guard.rejected", "a": "user:alice", "d": details, "ts": time.time()}
        )
        async with client.pipeline(transaction=False) as pipe:
            pipe.incr("bench:guard")
            pipe.zadd(seed_key, {member: time.time()})
            pipe.zremrangebyrank(seed_key, 0, -10_001)
            await pipe.execute()

    cases = {
        "guard only (floor)": guard_only,
        "guard + queue_event (ours)": with_queue_event,
        "guard, then log_event round trip": separate_round_trip,
        "seed: ZADD + ZREMRANGEBYRANK (baseline)": seed_zset,
    }
    results: dict[str, float] = {}
    try:
        for _ in range(2):  # interleave rounds: other work shares the CPU
            for name, fn in cases.items():
                for _ in range(200):
                    await fn()
                started = time.perf_counter()
                for _ in range(n):
                    await fn()
                us = (time.perf_counter() - started) / n * 1e6
                results[name] = min(results.get(name, us), us)
    finally:
        await client.aclose()
    return results


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    server = embedded_redis.start(Path(tempfile.mkdtemp(prefix="bench-audit-")) / "redis")
    os.environ.update(
        {"REDIS_URL": f"{server.url}/0", "BROKER_URL": f"{server.url}/1", "KEY_PREFIX": "bench:"}
    )
    try:
        results = asyncio.run(_measure(n))
    finally:
        server.stop()
    floor = results["guard only (floor)"]
    seed = results["seed: ZADD + ZREMRANGEBYRANK (baseline)"]
    print(f"{n} requests per case, asyncio client, best of 2 rounds\n")
    print("| per request | µs | over the floor (µs) | vs seed baseline |")
    print("|---|---|---|---|")
    for name, us in results.items():
        print(f"| {name} | {us:.1f} | {us - floor:+.1f} | {us / seed:.2f}× |")


if __name__ == "__main__":
    main()
