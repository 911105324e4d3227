"""POST /chat/stream against reading the provider's stream directly, and its hit path vs /chat.

One run, one private redis-server, one local OpenAI-compatible server (the tests' protocol-
faithful one, `tests.fixtures.openai_server:bench_app`, in its own uvicorn process: model
`paced` sends a chunk per word 2 ms apart, then a usage chunk) and one web process
(`uvicorn --factory web.app:create_app`, CHAT_RESPONDER=openai pointed at that server).
One client connection, requests sequential and interleaved (direct, ours, direct, ours, ...):
- miss: a new 32-word question each request (33 content chunks): time to the first content
  chunk (TTFB) and per-chunk time after it, read straight from the provider with httpx, with
  the official `openai` client (the adapter's own cost), and through /chat/stream (guards,
  cache lookup, reservation, fill marker, the adapter, relay, store);
- hit: one pre-warmed question, /chat vs /chat/stream: latency of the whole response.
Run: `.venv/bin/python -m benchmarks.chat_stream [requests]` (default 40 misses, 10× hits).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import openai

from benchmarks._util import private_redis, uvicorn_server
from benchmarks.chat_path import LIMITS

WORDS = 32
MODEL = "paced"  # the provider waits 2 ms between chunks, as a model generating does


def _question(i: int) -> str:
    return " ".join(f"w{i}x{j}" for j in range(WORDS))


async def _timed_stream(
    client: httpx.AsyncClient, url: str, body: dict[str, object], content: bytes
) -> tuple[float, float, int]:
    """(ttfb ms, ms per chunk after the first, content chunks) of one streamed request."""
    started = time.perf_counter()
    first = 0.0
    chunks = 0
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if content in line.encode():
                chunks += 1
                if chunks == 1:
                    first = time.perf_counter()
    done = time.perf_counter()
    return (first - started) * 1000, (done - first) * 1000 / max(1, chunks - 1), chunks


async def _client_stream(sdk: openai.AsyncOpenAI, message: str) -> tuple[float, float, int]:
    """The same as `_timed_stream`, through the official client (what our adapter does)."""
    started = time.perf_counter()
    first = 0.0
    chunks = 0
    stream = await sdk.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": message}], stream=True,
        stream_options={"include_usage": True},
    )  # fmt: skip
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            chunks += 1
            if chunks == 1:
                first = time.perf_counter()
    done = time.perf_counter()
    return (first - started) * 1000, (done - first) * 1000 / max(1, chunks - 1), chunks


async def _measure(provider: str, ours: str, n: int) -> dict[str, list[float]]:
    names = ("d_ttfb", "d_chunk", "c_ttfb", "c_chunk", "o_ttfb", "o_chunk")
    got: dict[str, list[float]] = {k: [] for k in names}
    got.update(hit_chat=[], hit_stream=[])
    sdk = openai.AsyncOpenAI(base_url=f"{provider}/v1", api_key="sk-bench", max_retries=0)
    async with sdk, httpx.AsyncClient(timeout=30) as client:
        for i in range(n + 3):  # the first 3 warm connections and code paths up
            direct = {"model": MODEL, "stream": True, "stream_options": {"include_usage": True},
                      "messages": [{"role": "user", "content": _question(i)}]}  # fmt: skip
            d = await _timed_stream(client, f"{provider}/v1/chat/completions", direct, b'"content"')
            c = await _client_stream(sdk, _question(5_000 + i))
            body = {"message": _question(10_000 + i), "model": MODEL}
            o = await _timed_stream(client, f"{ours}/chat/stream", body, b'"delta"')
            assert d[2] == c[2] == o[2] == WORDS + 1, (d, c, o)
            if i >= 3:
                got["d_ttfb"].append(d[0])
                got["d_chunk"].append(d[1])
                got["c_ttfb"].append(c[0])
                got["c_chunk"].append(c[1])
                got["o_ttfb"].append(o[0])
                got["o_chunk"].append(o[1])
        hit = {"message": "what is the status of my order?", "model": "m1"}
        for _ in range(2):
            (await client.post(f"{ours}/chat", json=hit)).raise_for_status()
        for _ in range(10 * n):
            t0 = time.perf_counter()
            r = await client.post(f"{ours}/chat", json=hit)
            t1 = time.perf_counter()
            s = await client.post(f"{ours}/chat/stream", json=hit)
            t2 = time.perf_counter()
            assert r.headers["X-Cache"] == s.headers["X-Cache"] == "hit"
            got["hit_chat"].append((t1 - t0) * 1000)
            got["hit_stream"].append((t2 - t1) * 1000)
    return got


def _report(got: dict[str, list[float]], n: int) -> None:
    med = {k: statistics.median(v) for k, v in got.items()}
    p90 = {k: statistics.quantiles(v, n=10)[-1] for k, v in got.items()}
    print(f"misses: {n} each way, {WORDS + 1} content chunks; hits: {10 * n} each way\n")
    print("| measure (median / p90) | httpx direct | openai client direct | /chat/stream "
          "| overhead vs httpx |")  # fmt: skip
    print("|---|---|---|---|---|")
    for label, k in (("TTFB ms", "ttfb"), ("ms per chunk", "chunk")):
        d, c, o = f"d_{k}", f"c_{k}", f"o_{k}"
        print(
            f"| {label} | {med[d]:.3f} / {p90[d]:.3f} | {med[c]:.3f} / {p90[c]:.3f} | "
            f"{med[o]:.3f} / {p90[o]:.3f} | {med[o] - med[d]:+.3f} |"
        )
    print("\n| hit path | /chat | /chat/stream | ratio |")
    print("|---|---|---|---|")
    print(
        f"| latency ms (median / p90) | {med['hit_chat']:.3f} / {p90['hit_chat']:.3f} | "
        f"{med['hit_stream']:.3f} / {p90['hit_stream']:.3f} | "
        f"{med['hit_stream'] / med['hit_chat']:.2f} |"
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    tmp = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    with (
        private_redis() as redis,
        uvicorn_server(
            "tests.fixtures.openai_server:bench_app", {}, log=tmp / "provider.log"
        ) as provider,
    ):
        base = redis.url.rstrip("/").rsplit("/", 1)[0] if redis.url.count("/") > 2 else redis.url
        env = {
            "REDIS_URL": f"{base}/0",
            "BROKER_URL": f"{base}/1",
            "DATABASE_URL": f"sqlite:///{tmp}/ours.sqlite3",
            "HEALTH_PROBE_INTERVAL": "3600",
            "CHAT_RESPONDER": "openai",
            "OPENAI_BASE_URL": f"{provider}/v1",
            "OPENAI_API_KEY": "sk-bench-not-a-secret",
            **LIMITS,
        }
        with uvicorn_server("web.app:create_app", env, log=tmp / "web.log") as ours:
            got = asyncio.run(_measure(provider, ours, n))
    _report(got, n)


if __name__ == "__main__":
    main()
