"""Cached vs uncached POST /chat (µs per request), and hit rate on a replayed Zipf query log
with warmup on vs off.

/chat: the whole app in process (FastAPI TestClient, sequential requests, guards on), on a
private redis-server. Rows: cache off; cache hit; cache miss (distinct questions). The demo
responder answers in microseconds; with `--llm-ms N` a responder that sleeps N ms shows what a
real model costs a miss.

Zipf replay: Q distinct questions drawn with P(rank k) ∝ 1/k^s, in P phases of N requests.
Between phases every answer expires (the TTL is one phase). With warmup on, `cache.warmup`'s body
runs before each phase (popularity from the cache's own hit counters, top CACHE_WARMUP_TOP_N).
Run: `.venv/bin/python -m benchmarks.cache_chat`.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._util import private_redis, table, uvicorn_server
from shared.responder import Reply, demo_responder

LLM_MS = float(os.environ.get("BENCH_LLM_MS", "0"))


def slow_responder(message: str, model: str) -> Reply:
    time.sleep(LLM_MS / 1000)
    return demo_responder(message, model)


def _per_request_us(client: Any, url: str, messages: list[str]) -> tuple[float, set[str]]:
    seen = set()
    t0 = time.perf_counter()
    for m in messages:
        response = client.post(url, json={"message": m})
        assert response.status_code == 200, response.text
        seen.add(response.headers.get("X-Cache", "?"))
    return (time.perf_counter() - t0) / len(messages) * 1e6, seen


def bench_chat(n: int, env: dict[str, str]) -> list[list[object]]:
    """Sequential requests over keep-alive HTTP to uvicorn: the response returns before the
    background steps (counters, analytics event) run, as a real client sees it."""
    import httpx  # noqa: PLC0415

    rows = []
    for label, enabled in (
        ("cache off", "false"),
        ("cache miss (distinct questions)", "true"),
        ("cache hit (same question)", "true"),
    ):
        with (
            uvicorn_server("web.app:create_app", {**env, "CACHE_ENABLED": enabled}) as base,
            httpx.Client() as client,
        ):
            url = f"{base}/chat"
            runs = []
            for r in range(3):
                if label.startswith("cache hit"):
                    messages = ["the popular question"] * n
                else:
                    messages = [f"question {r} {i} {label}" for i in range(n)]
                _per_request_us(client, url, messages[:20])  # warm-up (and the hit's fill)
                runs.append(_per_request_us(client, url, messages[20:]))
        us = statistics.median(x[0] for x in runs)
        rows.append([label, f"{us:,.0f}", ",".join(sorted(set().union(*(x[1] for x in runs))))])
    return rows


def _zipf_log(q: int, s: float, n: int, rng: random.Random) -> list[str]:
    weights = [1 / (k**s) for k in range(1, q + 1)]
    return [f"question number {k}" for k in rng.choices(range(q), weights, k=n)]


async def _replay(log: list[str], phases: int, warm: bool) -> list[float]:
    from shared.cache import serve, warmup  # noqa: PLC0415
    from shared.cache.entry import CacheKey  # noqa: PLC0415
    from shared.cache.invalidate import invalidate_pattern  # noqa: PLC0415
    from shared.cache.store import hit_rate, read_stats  # noqa: PLC0415
    from shared.keys import cache_entries_prefix, cache_stats  # noqa: PLC0415
    from shared.redis_client import build_async_client, get_redis  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    settings = get_settings()
    cs = settings.cache
    sync = get_redis()
    sync.flushdb()
    client = build_async_client(settings.conn)

    async def refresh() -> bool:
        return True

    rates = []
    per_phase = len(log) // phases
    for p in range(phases):
        if p:
            invalidate_pattern(sync, cache_entries_prefix() + "*", cs)  # the TTL ran out
        if warm:
            # warmup runs its own event loop (as in a worker): off this one
            await asyncio.to_thread(warmup.run, sync, demo_responder, settings)
        sync.delete(cache_stats())
        for message in log[p * per_phase : (p + 1) * per_phase]:
            key = CacheKey.build(message, "demo", template_version=cs.template_version)

            async def generate(m: str = message) -> Reply:
                return demo_responder(m, "demo")

            served = await serve.answer(client, key, generate, refresh, cs)
            await serve.count(client, key, served)
        rate, _ = hit_rate(read_stats(sync))
        rates.append(rate or 0.0)
    await client.aclose()
    return rates


def bench_zipf(q: int, s: float, n: int, phases: int) -> list[list[object]]:
    from shared.db import ensure_schema  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415

    ensure_schema()
    log = _zipf_log(q, s, n, random.Random(7))
    rows = []
    for warm, top_n in ((False, 0), (True, 200), (True, 500)):
        if top_n:
            os.environ["CACHE_WARMUP_TOP_N"] = str(top_n)
            reset_settings()
        rates = asyncio.run(_replay(log, phases, warm))
        later = statistics.mean(rates[1:])
        rows.append(
            [
                f"on (top {top_n})" if warm else "off",
                " / ".join(f"{x:.1%}" for x in rates),
                f"{later:.1%}",
            ]
        )
    return rows


def main() -> None:
    global LLM_MS  # noqa: PLW0603
    args = sys.argv[1:]
    if "--llm-ms" in args:
        LLM_MS = float(args[args.index("--llm-ms") + 1])
    tmp = Path(tempfile.mkdtemp(prefix="bench-cache-chat-"))
    with private_redis() as server:
        os.environ.update(
            {
                "REDIS_URL": f"{server.url}/0",
                "BROKER_URL": f"{server.url}/1",
                "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}",
                "KEY_PREFIX": "cb:",
                "RATE_LIMIT_REQUESTS": "1000000",
                "TOKEN_LIMIT_PER_MINUTE": "50000000",
                "CHAT_RESPONDER": "benchmarks.cache_chat:slow_responder",
                "CACHE_WARMUP_TOP_N": "200",
            }
        )
        env = dict(os.environ)
        if LLM_MS:
            env["BENCH_LLM_MS"] = str(LLM_MS)
        print(f"POST /chat, µs per request (median of 3 x 300, responder {LLM_MS:g} ms):\n")
        print(table(["path", "µs/request", "X-Cache seen"], bench_chat(320, env)))
        q, s, n, phases = 2000, 1.0, 20_000, 5
        print(f"\nHit rate, Zipf(s={s}) over {q} questions, {phases} phases of {n // phases}:\n")
        header = ["warmup", "hit rate per phase", "mean of phases 2+"]
        print(table(header, bench_zipf(q, s, n, phases)))


if __name__ == "__main__":
    main()
