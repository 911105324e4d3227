"""Rate-limiter decisions/s and latency, and memory per identity: ours against the baselines.

Contenders, all on the same private redis-server and the same client library (redis-py + hiredis):
  ours        GCRA in one EVALSHA (shared/lua/guard.lua), 100 per 60 s
  limits-mw   `limits` MovingWindowRateLimiter (one list entry per unit of cost)
  limits-swc  `limits` SlidingWindowCounterRateLimiter
  seed        the seed plan's GET JSON counter, then SET (two round trips, races)
Each runs on one connection (sync client, sequential) and with 50 concurrent asyncio clients
(one async client, pool of 50). The floor is `redis-benchmark` sending our exact EVALSHA (-c 1,
-c 50) in the same run. Memory is MEMORY USAGE of one identity's state after it used its whole
limit, at 100/min and 70,000/day. Run: `.venv/bin/python -m benchmarks.guards_limiter`.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import redis
import redis.asyncio as aredis
from limits import RateLimitItemPerDay, RateLimitItemPerMinute
from limits.aio.storage import RedisStorage as AsyncLimitsStorage
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMW
from limits.aio.strategies import SlidingWindowCounterRateLimiter as AsyncSWC
from limits.storage import RedisStorage as LimitsStorage
from limits.strategies import MovingWindowRateLimiter, SlidingWindowCounterRateLimiter

import embedded_redis
from shared import keys, lua
from shared.guards import gcra
from shared.guards.policies import Charge, Policy

N_ONE = int(os.environ.get("BENCH_N", "20000"))  # decisions on one connection
N_MANY = N_ONE * 2  # decisions with 50 clients
CLIENTS = 50
ROUNDS = 3
OURS, MW = "ours (GCRA, 1 EVALSHA)", "limits moving window"
IDENTITIES = 1000
MINUTE = Policy("minute", 100, 60.0)
ITEM = RateLimitItemPerMinute(100)


def ident(i: int) -> str:
    return f"user-{i % IDENTITIES}"


def our_key(i: int) -> str:
    return keys.rate_limit("u." + ident(i), "minute")  # the production key shape


# --- the seed plan's limiter: GET a JSON counter, then SET it (two round trips, racy) ---------
def seed_sync(client: redis.Redis, i: int) -> bool:
    key = "seed:" + ident(i)
    now = time.time()
    raw = client.get(key)
    state = orjson.loads(raw) if raw else {"count": 0, "start": now}
    if now - state["start"] >= 60:
        state = {"count": 0, "start": now}
    if state["count"] >= 100:
        return False
    state["count"] += 1
    client.set(key, orjson.dumps(state), ex=60)
    return True


async def seed_async(client: aredis.Redis, i: int) -> bool:
    key = "seed:" + ident(i)
    now = time.time()
    raw = await client.get(key)
    state = orjson.loads(raw) if raw else {"count": 0, "start": now}
    if now - state["start"] >= 60:
        state = {"count": 0, "start": now}
    if state["count"] >= 100:
        return False
    state["count"] += 1
    await client.set(key, orjson.dumps(state), ex=60)
    return True


def run_one(fn: Callable[[int], Any]) -> tuple[float, float, float]:
    """(decisions/s, p50 us, p99 us) of N_ONE sequential decisions."""
    for i in range(200):
        fn(i)
    lat = []
    start = time.perf_counter()
    for i in range(N_ONE):
        t0 = time.perf_counter_ns()
        fn(i)
        lat.append(time.perf_counter_ns() - t0)
    elapsed = time.perf_counter() - start
    q = statistics.quantiles(lat, n=100)
    return N_ONE / elapsed, q[49] / 1000, q[98] / 1000


async def run_many(fn: Callable[[int], Awaitable[Any]]) -> tuple[float, float, float]:
    """(decisions/s, p50 us, p99 us) of N_MANY decisions from CLIENTS concurrent tasks."""
    for i in range(200):
        await fn(i)
    lat: list[int] = []
    per = N_MANY // CLIENTS

    async def client_task(c: int) -> None:
        for j in range(per):
            t0 = time.perf_counter_ns()
            await fn(c * per + j)
            lat.append(time.perf_counter_ns() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(client_task(c) for c in range(CLIENTS)))
    elapsed = time.perf_counter() - start
    q = statistics.quantiles(lat, n=100)
    return len(lat) / elapsed, q[49] / 1000, q[98] / 1000


def server_cost_us(client: redis.Redis) -> float:
    """Server CPU per decision (us), top-level commands only.

    Commands run inside a script are also listed in commandstats; counting them too would
    count their time twice, so when scripts ran only EVALSHA counts.
    """
    stats = client.info("commandstats")
    top = ["cmdstat_evalsha"] if "cmdstat_evalsha" in stats else list(stats)
    used = sum(float(stats[k]["usec"]) for k in top if k not in ("cmdstat_config", "cmdstat_info"))
    return used / (N_ONE + 200)


def evalsha_floor(port: int, sha: str, clients: int) -> float:
    """redis-benchmark sending our guard EVALSHA (one policy, one key): requests/s."""
    cmd = [
        "redis-benchmark", "-p", str(port), "-c", str(clients), "-n", str(N_ONE * 2), "-q",
        "-r", str(IDENTITIES),
        "EVALSHA", sha, "1", "cb:rl:{u:u.user-__rand_int__}:minute",
        "", "1", "", "0", str(MINUTE.emission_us), str(MINUTE.limit), "1", "0",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(re.findall(r"([0-9.]+) requests per second", out)[-1])


def memory(client: redis.Redis, url: str) -> list[tuple[str, list[int], int, int]]:
    """(limit, ours bytes [plain id, hashed id], limits moving window, limits sliding counter)."""
    rows = []
    mw = MovingWindowRateLimiter(LimitsStorage(url))
    swc = SlidingWindowCounterRateLimiter(LimitsStorage(url))
    for label, policy, item in (
        ("100/min", MINUTE, ITEM),
        ("70,000/day", Policy("day", 70_000, 86_400.0), RateLimitItemPerDay(70_000)),
    ):
        client.flushall()
        ours = []
        # a typical readable id, and a hashed one (IPv6, odd subjects): the longest key shape
        for ours_key in (
            keys.rate_limit("u.user-1", policy.name),
            keys.rate_limit("ip.2001:db8::1", policy.name),
        ):
            gcra.check(client, gcra.GuardCall([Charge(policy, ours_key, policy.limit)]))
            ours.append(client.memory_usage(ours_key) or 0)
        mw.hit(item, "user-1", cost=item.amount)
        mw_bytes = sum(client.memory_usage(k) or 0 for k in client.scan_iter("LIMITS*"))
        client.flushall()
        swc.hit(item, "user-1", cost=item.amount)
        swc_bytes = sum(client.memory_usage(k) or 0 for k in client.scan_iter("LIMITS*"))
        rows.append((label, ours, mw_bytes, swc_bytes))
    return rows


def main() -> None:
    server = embedded_redis.start(Path(tempfile.mkdtemp(prefix="bench-guards-")))
    try:
        url = server.url + "/0"
        sync = redis.Redis.from_url(url)
        guard = lua.script(sync, "guard")
        sha = hashlib.sha1(lua.source("guard").encode()).hexdigest()
        sync.script_load(lua.source("guard"))
        mw = MovingWindowRateLimiter(LimitsStorage(url))
        swc = SlidingWindowCounterRateLimiter(LimitsStorage(url))

        def ours(i: int) -> bool:
            return gcra.check(sync, gcra.GuardCall([Charge(MINUTE, our_key(i), 1)])).allowed

        one = {
            OURS: ours,
            MW: lambda i: mw.hit(ITEM, ident(i)),
            "limits sliding-window counter": lambda i: swc.hit(ITEM, ident(i)),
            "seed GET-then-SET": lambda i: seed_sync(sync, i),
        }
        results: dict[str, list[tuple[float, float, float]]] = {}
        server_us: dict[str, float] = {}
        rounds: dict[str, list[tuple[float, float, float]]] = {name: [] for name in one}
        for _ in range(ROUNDS):  # interleaved, so load from other processes hits all alike
            for name, fn in one.items():
                sync.flushall()
                sync.script_load(lua.source("guard"))
                sync.config_resetstat()
                rounds[name].append(run_one(fn))
                server_us[name] = server_cost_us(sync)
        for name, runs in rounds.items():
            results[name] = [sorted(runs)[len(runs) // 2]]  # the median round by rate
        del guard

        async def many() -> None:
            client = aredis.Redis.from_url(url, max_connections=CLIENTS)
            amw = AsyncMW(
                AsyncLimitsStorage(
                    "async+" + url, implementation="redispy", max_connections=CLIENTS
                )
            )
            aswc = AsyncSWC(
                AsyncLimitsStorage(
                    "async+" + url, implementation="redispy", max_connections=CLIENTS
                )
            )

            async def aours(i: int) -> bool:
                d = await gcra.acheck(client, gcra.GuardCall([Charge(MINUTE, our_key(i), 1)]))
                return d.allowed

            contenders = {
                OURS: aours,
                MW: lambda i: amw.hit(ITEM, ident(i)),
                "limits sliding-window counter": lambda i: aswc.hit(ITEM, ident(i)),
                "seed GET-then-SET": lambda i: seed_async(client, i),
            }
            many_rounds: dict[str, list[tuple[float, float, float]]] = {n: [] for n in contenders}
            for _ in range(ROUNDS):
                for name, fn in contenders.items():
                    sync.flushall()
                    many_rounds[name].append(await run_many(fn))
            for name, runs in many_rounds.items():
                results[name].append(sorted(runs)[len(runs) // 2])
            await client.aclose()

        asyncio.run(many())
        sync.flushall()
        floor1 = evalsha_floor(server.port, sha, 1)
        floor50 = evalsha_floor(server.port, sha, CLIENTS)
        mem = memory(sync, url)
        sync.close()
    finally:
        server.stop()

    print(
        f"N={N_ONE} decisions on 1 connection, {N_MANY} with {CLIENTS} async clients, "
        f"{IDENTITIES} identities, limit 100/min, median of {ROUNDS} interleaved rounds\n"
    )
    print(
        "| limiter | 1 conn: decisions/s | p50 µs | p99 µs | server µs/decision "
        "| 50 clients: decisions/s | p50 µs | p99 µs |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, ((r1, a1, b1), (r2, a2, b2)) in results.items():
        print(
            f"| {name} | {r1:,.0f} | {a1:.0f} | {b1:.0f} | {server_us[name]:.1f} "
            f"| {r2:,.0f} | {a2:.0f} | {b2:.0f} |"
        )
    print(
        f"| redis-benchmark EVALSHA floor (our script) | {floor1:,.0f} | | | | {floor50:,.0f} | | |"
    )
    ours1, ours50 = results[OURS][0][0], results[OURS][1][0]
    mw1, mw50 = results[MW][0][0], results[MW][1][0]
    print(
        f"\nours / floor: {ours1 / floor1:.2f} (1 conn), {ours50 / floor50:.2f} (50 clients); "
        f"ours / limits moving window: {ours1 / mw1:.2f}x (1 conn), {ours50 / mw50:.2f}x "
        "(50 clients)\n"
    )
    print(
        "| limit | ours, plain id (bytes/identity) | ours, hashed id | limits moving window | "
        "limits sliding counter |"
    )
    print("|---|---:|---:|---:|---:|")
    for label, o, m, s in mem:
        print(f"| {label} | {o[0]:,} | {o[1]:,} | {m:,} | {s:,} |")


if __name__ == "__main__":
    main()
