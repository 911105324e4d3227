"""Analytics: events/s from XADD to the rolled-up summary vs one Celery task per event, and the
request-path cost of the append. All in one run against one private redis-server.

Ours: a producer process appends events with `queue_event` below (pipelined XADDs of
`event_fields`, as many web processes would) while this process runs the rollup (`rollup.run`
+ `write_snapshots`) until the summary reports every event; also each half alone. Baseline: one
Celery task per event (published with `send_task`, run by a prefork worker with 2 processes),
each task updating the same kind of counters with one pipelined round trip.
Run: `.venv/bin/python -m benchmarks.analytics_throughput [n_events] [n_baseline]`, or
`... analytics_throughput append` for the request-path cost alone.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from benchmarks._util import ROOT, private_redis, table

PRODUCER_CHUNK = 2000
QUERIES = [f"{i:032x}" for i in range(1000)]


def _event(i: int) -> dict[str, Any]:
    return {
        "user_id": f"user{i % 20_000}",
        "model": ("gpt-4o", "llama3", "demo")[i % 3],
        "prompt_tokens": 10 + i % 50,
        "completion_tokens": 20 + i % 70,
        "latency_ms": 50.0 + (i * 7) % 900,
        "cache_hit": i % 4 == 0,
        "error": "Timeout" if i % 97 == 0 else None,
        "qhash": QUERIES[i % 1000],
    }


def event_queuer() -> Callable[..., None]:
    """`queue_event(pipe, **fields)`: queue one event's bounded XADD on a caller's pipeline."""
    from shared import keys  # noqa: PLC0415
    from shared.analytics.events import event_fields  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    stream, maxlen = keys.events_stream(), get_settings().analytics.events_maxlen

    def queue_event(pipe: Any, **fields: Any) -> None:
        pipe.xadd(stream, event_fields(**fields), maxlen=maxlen, approximate=True)

    return queue_event


def produce(n: int) -> None:
    """Append `n` events with the web's event schema, pipelined; prints the producer's events/s."""
    from shared.redis_client import get_redis  # noqa: PLC0415

    queue_event = event_queuer()
    client = get_redis()
    started = time.perf_counter()
    for start in range(0, n, PRODUCER_CHUNK):
        with client.pipeline(transaction=False) as pipe:
            for i in range(start, min(n, start + PRODUCER_CHUNK)):
                queue_event(pipe, **_event(i))
            pipe.execute()
    print(f"{n / (time.perf_counter() - started):.0f}", flush=True)


def _producer(n: int) -> subprocess.Popen[str]:
    code = f"import benchmarks.analytics_throughput as b; b.produce({n})"
    return subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip


def _rollup_until(n: int, deadline_s: float = 900) -> float:
    """Run rollups back to back until the summary says `n` messages; returns the seconds."""
    from shared.analytics import rollup, series  # noqa: PLC0415
    from shared.redis_client import get_redis  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    client, settings = get_redis(), get_settings()
    started = time.perf_counter()
    while True:
        rollup.run(client, settings.analytics)
        summary = series.write_snapshots(client, settings, extra={})
        if summary["messages_total"] >= n:
            return time.perf_counter() - started
        if time.perf_counter() - started > deadline_s:
            raise RuntimeError(f"only {summary['messages_total']}/{n} rolled up")
        time.sleep(0.01)


def ours(n: int) -> dict[str, float]:
    from shared.redis_client import get_redis  # noqa: PLC0415

    client = get_redis()
    client.flushdb()
    started = time.perf_counter()  # 1. each half alone: fill the stream, then drain it
    proc = _producer(n)
    out, _ = proc.communicate(timeout=900)
    xadd_s = time.perf_counter() - started
    cpu_started = time.process_time()
    rollup_s = _rollup_until(n)
    rollup_cpu_us = (time.process_time() - cpu_started) / n * 1e6
    client.flushdb()
    started = time.perf_counter()  # 2. sustained: producer and rollup at the same time
    proc = _producer(n)
    together_s = _rollup_until(n)
    proc.communicate(timeout=900)
    return {
        "producer": float(out.strip()),
        "xadd_s": xadd_s,
        "rollup_alone": n / rollup_s,
        "sequential": n / (xadd_s + rollup_s),
        "sustained": n / together_s,
        "rollup_cpu_us": rollup_cpu_us,
    }


# --- baseline: one Celery task per event ------------------------------------------------------


def _baseline_app() -> Any:
    from celery import Celery  # noqa: PLC0415

    from shared.settings import get_settings  # noqa: PLC0415
    from workers.config import build_config  # noqa: PLC0415

    app = Celery("bench_analytics")
    app.config_from_object(build_config(get_settings()))

    @app.task(name="bench.analytics_event", ignore_result=True)
    def count_event(event: dict[str, Any]) -> None:
        from shared import keys  # noqa: PLC0415
        from shared.redis_client import get_redis  # noqa: PLC0415

        totals, model = keys.analytics_totals(), event["model"]
        with get_redis().pipeline(transaction=True) as pipe:  # one round trip per event
            pipe.hincrby(totals, "msg", 1)
            pipe.hincrby(totals, f"msg:m:{model}", 1)
            pipe.hincrby(totals, f"tok_p:{model}", event["prompt_tokens"])
            pipe.hincrby(totals, f"tok_c:{model}", event["completion_tokens"])
            pipe.pfadd(keys.analytics_hll("day", 0), event["user_id"])
            pipe.zincrby(keys.popularity(), 1, event["qhash"])
            pipe.execute()

    return app


baseline_app = _baseline_app() if os.environ.get("BENCH_BASELINE") else None


def baseline(n: int) -> dict[str, float]:
    from shared import keys  # noqa: PLC0415
    from shared.redis_client import get_redis  # noqa: PLC0415

    client = get_redis()
    client.flushdb()
    env = {**os.environ, "BENCH_BASELINE": "1", "CELERY_TASK_EVENTS": "false"}
    code = (
        "import benchmarks.analytics_throughput as b; a = b.baseline_app; "
        f"[a.send_task('bench.analytics_event', args=[b._event(i)]) for i in range({n})]"
    )
    worker_args = ["worker", "--pool", "prefork", "-c", "2", "--loglevel", "WARNING"]
    worker_args += ["--without-gossip", "--without-mingle", "--without-heartbeat", "-Q", "heavy"]
    started = time.perf_counter()
    publisher = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "benchmarks.analytics_throughput:baseline_app",
         *worker_args], cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        publisher.wait(timeout=900)
        publish_s = time.perf_counter() - started
        while int(client.hget(keys.analytics_totals(), "msg") or 0) < n:
            if time.perf_counter() - started > 900:
                raise RuntimeError("baseline did not finish in 15 minutes")
            time.sleep(0.01)
        total_s = time.perf_counter() - started
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    return {"publish": n / publish_s, "sustained": n / total_s}


# --- request path -----------------------------------------------------------------------------


def append_cost(n: int = 2000, rounds: int = 7) -> dict[str, float]:
    """µs per event: the chat's async append, a sync round trip, marginal in a pipeline.

    Each variant runs `rounds` times interleaved; the fastest round counts (least disturbed by
    the other processes sharing the CPU).
    """
    from shared import keys  # noqa: PLC0415
    from shared.analytics.events import event_fields  # noqa: PLC0415
    from shared.redis_client import build_async_client, get_redis  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    queue_event = event_queuer()
    client = get_redis()
    event = _event(1)

    async def run_async() -> float:
        aclient = build_async_client(get_settings().conn)
        started = time.perf_counter()
        for _ in range(n):
            # One event as its own round trip: what POST /chat did before the write-behind.
            await aclient.xadd(keys.events_stream(), event_fields(**event), maxlen=100_000)  # type: ignore[arg-type]
        elapsed = time.perf_counter() - started
        await aclient.aclose()
        return elapsed

    def per_request(with_event: bool) -> float:
        started = time.perf_counter()
        for _ in range(n):
            with client.pipeline(transaction=False) as pipe:
                pipe.set("bench:other-write", "1")  # the request's other write
                if with_event:
                    queue_event(pipe, **event)
                pipe.execute()
        return time.perf_counter() - started

    def alone() -> float:
        started = time.perf_counter()
        for _ in range(n):
            with client.pipeline(transaction=False) as pipe:
                queue_event(pipe, **event)
                pipe.execute()
        return time.perf_counter() - started

    def batched(size: int = 100) -> float:
        started = time.perf_counter()
        for _ in range(n // size):
            with client.pipeline(transaction=False) as pipe:
                for _ in range(size):
                    queue_event(pipe, **event)
                pipe.execute()
        return time.perf_counter() - started

    best: dict[str, float] = {}
    variants = {
        "async": lambda: asyncio.run(run_async()),
        "sync": alone,
        "other": lambda: per_request(False),
        "other+event": lambda: per_request(True),
        "batched": batched,
    }
    for _ in range(rounds):
        for name, fn in variants.items():
            best[name] = min(best.get(name, float("inf")), fn() * 1e6 / n)
    return {
        "async XADD, own round trip (POST /chat before the write-behind)": best["async"],
        "sync, own round trip": best["sync"],
        "added to a pipeline that already does another write (marginal)": best["other+event"]
        - best["other"],
        "amortised, 100 events per pipeline": best["batched"],
    }


def main() -> None:
    only_append = sys.argv[1:2] == ["append"]
    if only_append:
        sys.argv.pop(1)
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    n_base = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    with private_redis() as server:
        os.environ.update(
            {
                "REDIS_URL": f"{server.url}/0",
                "BROKER_URL": f"{server.url}/1",
                "KEY_PREFIX": "bench:",
                "ANALYTICS_EVENTS_MAXLEN": str(max(1000, 2 * n)),
                "ANALYTICS_BATCH_SIZE": "5000",
                "ANALYTICS_MAX_BATCHES_PER_RUN": "100000",
                "CELERY_TASK_EVENTS": "false",
            }
        )
        from shared.settings import reset_settings  # noqa: PLC0415

        reset_settings()
        if only_append:
            cost = append_cost()
            print(table(["append on the request path", "µs/event"],
                        [[k, f"{v:.1f}"] for k, v in cost.items()]))  # fmt: skip
            return
        got = ours(n)
        base = baseline(n_base)
        cost = append_cost()
    per_core = 1e6 / got["rollup_cpu_us"]
    rows = [
        [f"ours, sustained (producer + rollup at once, {n:,} events)", f"{got['sustained']:,.0f}",
         f"{got['sustained'] / base['sustained']:.0f}x"],
        ["ours, rollup alone (stream pre-filled)", f"{got['rollup_alone']:,.0f}",
         f"{got['rollup_alone'] / base['sustained']:.0f}x"],
        ["ours, producer alone (queue_event, pipelined XADD)", f"{got['producer']:,.0f}", ""],
        [f"ours, rollup CPU time: {got['rollup_cpu_us']:.1f} µs/event = events/s on one free core",
         f"{per_core:,.0f}", f"{per_core / base['sustained']:.0f}x"],
        [f"baseline, one Celery task per event ({n_base:,} events)",
         f"{base['sustained']:,.0f}", "1x"],
        ["baseline, publishing alone (send_task)", f"{base['publish']:,.0f}", ""],
    ]  # fmt: skip
    print(table(["path: XADD → rolled-up summary", "events/s", "vs baseline"], rows))
    print()
    print(
        table(
            ["append on the request path", "µs/event"], [[k, f"{v:.1f}"] for k, v in cost.items()]
        )
    )


if __name__ == "__main__":
    main()
