"""No-op task throughput: our Celery config vs Celery's defaults, same broker, same pool.

Tasks are published while no worker runs; then a prefork worker (2 processes) drains them. The
task body is one INCR so the harness can see progress; it costs both configs the same. The
figure is tasks/s between the first and the last completed task.
Run: `.venv/bin/python -m benchmarks.foundation_tasks [n_tasks] [rounds]`.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import redis
from celery import Celery

from benchmarks._util import ROOT, private_redis, table

COUNTER = "bench:noop:done"


def _app(kind: str) -> Celery:
    url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    if kind == "ours":
        from shared.settings import Settings  # noqa: PLC0415
        from workers.config import build_config  # noqa: PLC0415

        env = {**os.environ, "REDIS_URL": url}
        app = Celery("bench_ours")
        config = build_config(Settings.from_env(env))
        config.update(json.loads(os.environ.get("BENCH_OVERRIDES", "{}")))
        app.config_from_object(config)
    else:
        app = Celery("bench_defaults", broker=url, backend=url)
    counter = redis.Redis.from_url(url)

    @app.task(name="bench.noop", ignore_result=True)
    def noop() -> None:
        counter.incr(COUNTER)

    return app


ours = _app("ours") if os.environ.get("BENCH_KIND", "ours") == "ours" else None
defaults = _app("defaults") if os.environ.get("BENCH_KIND") == "defaults" else None


def _run(kind: str, url: str, n: int, events: bool) -> float:
    env = {
        **os.environ,
        "BENCH_KIND": kind,
        "BENCH_REDIS_URL": url,
        "CELERY_TASK_EVENTS": "true" if events else "false",
    }
    client = redis.Redis.from_url(url)
    client.flushdb()
    subprocess.run(  # publish with the same app the worker runs
        [
            sys.executable,
            "-c",
            f"import benchmarks.foundation_tasks as b; a = b.{kind}; "
            f"[a.send_task('bench.noop') for _ in range({n})]",
        ],
        cwd=ROOT,
        env=env,
        check=True,
    )
    args = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        f"benchmarks.foundation_tasks:{kind}",
        "worker",
        "--pool",
        "prefork",
        "-c",
        "2",
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if events:
        args.append("-E")
    worker = subprocess.Popen(args, cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 300
        while int(client.get(COUNTER) or 0) == 0:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind}: no task completed")
            time.sleep(0.002)
        started = time.perf_counter()
        first = int(client.get(COUNTER) or 0)
        while (done := int(client.get(COUNTER) or 0)) < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind}: only {done}/{n} completed")
            time.sleep(0.005)
        return (n - first) / (time.perf_counter() - started)
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    results: dict[str, list[float]] = {"defaults": [], "ours": [], "ours, events on": []}
    with private_redis() as server:
        url = f"{server.url}/0"
        for _ in range(rounds):
            results["defaults"].append(_run("defaults", url, n, events=False))
            results["ours"].append(_run("ours", url, n, events=False))
            results["ours, events on"].append(_run("ours", url, n, events=True))
    med = {k: statistics.median(v) for k, v in results.items()}
    rows = [[k, f"{v:.0f}", f"{v / med['defaults']:.2f}"] for k, v in med.items()]
    print(table(["config (events off unless said)", "tasks/s (median)", "vs defaults"], rows))


if __name__ == "__main__":
    main()
