"""The web's Redis client, chosen by measurement: redis-py asyncio + hiredis vs valkey-glide vs
coredis on the exact command mix of a /chat cache hit, in one process, side by side, and the
auto-pipelined connection the web uses on standalone Redis (`shared.redis_mux`, on redis-py's
own connection).

Per hit: ONE pipelined round trip of EVALSHA `guard.lua` (the keys and arguments `/chat` builds
today: two token policies, two request policies, a reservation record; see
`GuardCall.keys_and_args`) and MGET of the cache entry and the user's generation (a per-user
cache key, as `CacheKey.read_keys` returns it). Reference rows: redis-py with the two commands
as two awaited round trips (what the route does today), and redis-py with a pool of 64
connections (one per coroutine: what the client costs without waiting for a connection).
Per flush: one pipeline of 99 commands, the write-behind of 33 hits (XADD of the analytics
event with MAXLEN ~, HINCRBY of the cache stats, ZINCRBY of the popularity set).

Coroutines: 1, 16 and 64 in one event loop, each looping the hit for the round's duration; the
pool size of the pooled clients is REDIS_MAX_CONNECTIONS (the web's default, 20); glide
multiplexes one connection. Rounds are interleaved (every client at every concurrency once per
round) and the table shows medians. CPU µs/op is the whole process's CPU time (every thread,
so glide's Rust runtime counts) over the operations: the web process's CPU is the scarce
resource, the loopback Redis is not.
Run: `.venv/bin/python -m benchmarks.redis_clients [seconds] [rounds]` (defaults 3 and 3).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from benchmarks._util import private_redis, table
from benchmarks.redis_adapters import (
    HITS_PER_FLUSH,
    Client,
    CoRedis,
    Glide,
    Mix,
    Multiplexed,
    RedisPy,
    RedisPyTwoTrips,
    RedisPyWidePool,
)

CONCURRENCY = (1, 16, 64)
ENV = {  # limits raised so the guard decides (and writes) but never refuses
    "RATE_LIMIT_REQUESTS": "10000000",
    "RATE_LIMIT_DAILY_REQUESTS": "1000000000",
    "TOKEN_LIMIT_PER_MINUTE": "50000000",
    "TOKEN_LIMIT_MODEL_PER_MINUTE": "50000000",
}


def build_mix(url: str, width: int) -> Mix:
    """Keys and arguments exactly as `/chat` builds them, for `width` distinct users."""
    os.environ.update({**ENV, "REDIS_URL": f"{url}/0"})
    from shared import keys, lua  # noqa: PLC0415  (settings are read from the env set above)
    from shared.analytics.events import event_fields  # noqa: PLC0415
    from shared.cache.entry import CacheKey  # noqa: PLC0415
    from shared.cache.store import store_reply  # noqa: PLC0415
    from shared.guards.gcra import GuardCall  # noqa: PLC0415
    from shared.guards.policies import Charge, policy_key, request_policies, token_policies  # noqa: PLC0415
    from shared.redis_client import get_redis  # noqa: PLC0415
    from shared.responder import demo_responder  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    settings = get_settings()
    s, sync = settings.guards, get_redis()
    message = "what is the status of my order?"
    mix = Mix(
        sha=str(sync.script_load(lua.source("guard"))),
        guard_keys=[],
        reservation_prefix=[],
        guard_args=[],
        read_keys=[],
        stream=keys.events_stream(),
        stats=keys.cache_stats(),
        hits=keys.cache_hits(),
        event=event_fields(
            user_id="user:bench-0",
            model="demo",
            prompt_tokens=12,
            completion_tokens=40,
            latency_ms=1.234,
            cache_hit=True,
            message=message,
        ),
        maxlen=settings.analytics.events_maxlen,
    )
    for i in range(width):
        user = f"bench-{i}"
        identity = f"u.{user}"
        charges = [
            Charge(p, policy_key(identity, p, "demo"), 300) for p in token_policies(s, user, None)
        ]
        charges += [Charge(p, policy_key(identity, p), 1) for p in request_policies(s, user, None)]
        call = GuardCall(
            charges,
            reservation_key=keys.rate_reservation(identity, "x"),
            reservation_ttl_ms=int(s.token_reservation_ttl_s * 1000),
        )
        guard_keys, guard_args = call.keys_and_args()
        mix.guard_keys.append(guard_keys[:-1])
        mix.reservation_prefix.append(guard_keys[-1][:-1])
        mix.guard_args.append([str(a) for a in guard_args])
        key = CacheKey.build(
            message, "demo", template_version=settings.cache.template_version, user_id=user
        )
        store_reply(
            sync,
            key,
            demo_responder(message, "demo"),
            source="live",
            now=time.time(),
            settings=settings.cache,
        )
        mix.read_keys.append(key.read_keys())
    assert all(len(k) == 2 for k in mix.read_keys), "expected a per-user key and its generation"
    return mix


@dataclass
class Run:
    ops: int
    wall_s: float
    cpu_s: float
    latencies_ms: list[float]
    errors: int = 0


async def measure(
    op: Callable[[int, int], Awaitable[Any]], concurrency: int, seconds: float
) -> Run:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def loop(i: int) -> None:
        nonlocal errors
        n = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                await op(i, n)
            # A pooled client can starve a coroutine past its pool timeout ("No connection
            # available"): counted and shown, rather than ending the whole run.
            except Exception:
                errors += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            n += 1

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(loop(i) for i in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return Run(len(latencies), wall, cpu, latencies, errors)


def _pct(values: list[float], q: int) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[q - 1]
        if len(values) > 1
        else values[0]
    )


async def _main(seconds: float, rounds: int) -> None:
    with private_redis() as server:
        mix = build_mix(server.url, max(CONCURRENCY))
        from shared.settings import get_settings  # noqa: PLC0415

        pool = get_settings().conn.max_connections
        clients: list[Client] = [
            cls(mix, server.url, pool)
            for cls in (RedisPy, Multiplexed, RedisPyWidePool, RedisPyTwoTrips, Glide, CoRedis)
        ]
        for c in clients:
            await c.open()
            guard, cached = await c.hit(0, -1)
            # Every client must get the real answer: admitted, and the cached entry found.
            assert guard[0] == 1, (c.label, guard)
            assert cached[0], (c.label, cached)
            await measure(c.hit, 4, min(seconds, 0.5))  # warm-up: pools open, code paths hot
        hits: dict[tuple[str, int], list[Run]] = {}
        flushes: dict[str, list[Run]] = {}
        for _ in range(rounds):
            for conc in CONCURRENCY:
                for c in clients:
                    hits.setdefault((c.label, conc), []).append(await measure(c.hit, conc, seconds))
            for c in clients:
                if not isinstance(c, RedisPyTwoTrips | RedisPyWidePool):
                    flushes.setdefault(c.label, []).append(await measure(c.flush_op, 1, seconds))
        for c in clients:
            await c.close()
    _report(hits, flushes, clients, seconds, rounds, pool)


def _report(
    hits: dict[tuple[str, int], list[Run]],
    flushes: dict[str, list[Run]],
    clients: list[Client],
    seconds: float,
    rounds: int,
    pool: int,
) -> None:
    def med(runs: list[Run], f: Callable[[Run], float]) -> float:
        return statistics.median(f(r) for r in runs)

    base = {
        conc: med(hits[(RedisPy.label, conc)], lambda r: r.ops / r.wall_s) for conc in CONCURRENCY
    }
    rows = []
    for conc in CONCURRENCY:
        for c in clients:
            runs = hits[(c.label, conc)]
            rps = med(runs, lambda r: r.ops / r.wall_s)
            rows.append(
                [
                    c.label,
                    conc,
                    f"{rps:,.0f}",
                    f"{rps / base[conc]:.2f}",
                    f"{med(runs, lambda r: r.cpu_s / r.ops * 1e6):.1f}",
                    f"{med(runs, lambda r: _pct(r.latencies_ms, 50)):.2f}",
                    f"{med(runs, lambda r: _pct(r.latencies_ms, 99)):.2f}",
                    sum(r.errors for r in runs),
                ]
            )
    print(
        f"**Hit path** (EVALSHA guard + MGET 2 keys), {rounds} × {seconds:g} s rounds, medians; "
        f"pool {pool} connections.\n"
    )
    header = [
        "client",
        "coroutines",
        "hits/s",
        "vs redis-py",
        "CPU µs/hit",
        "p50 ms",
        "p99 ms",
        "errors (all rounds)",
    ]
    print(table(header, rows))
    rows = []
    for label, runs in flushes.items():
        per_flush = med(runs, lambda r: r.cpu_s / r.ops * 1e6)
        rows.append(
            [
                label,
                f"{med(runs, lambda r: r.ops / r.wall_s):,.0f}",
                f"{per_flush:,.0f}",
                f"{per_flush / HITS_PER_FLUSH:.1f}",
                f"{med(runs, lambda r: _pct(r.latencies_ms, 50)):.2f}",
            ]
        )
    print(
        f"\n**Write-behind flush**: one pipeline of {3 * HITS_PER_FLUSH} commands (XADD MAXLEN ~, "
        f"HINCRBY, ZINCRBY for {HITS_PER_FLUSH} hits), one flusher.\n"
    )
    header = ["client", "flushes/s", "CPU µs/flush", "CPU µs/hit amortised", "p50 ms"]
    print(table(header, rows))


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 3.0
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    asyncio.run(_main(seconds, rounds))


if __name__ == "__main__":
    main()
