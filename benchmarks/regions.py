"""Two regions on loopback: how long an invalidation sent to A takes to reach B.

Each region is a whole stack (data-plane and broker redis-servers, a worker, a beat, a web
server); one SQLite database. Measured, in this order:

1. `POST /admin/cache/invalidate` in A → B's `/chat` answers `X-Cache: miss` (B's entry was
   cached before every call), over N invalidations: p50, p99, max; and the admin call alone;
2. with B's broker stopped, the same call (B `pending` in A's outbox); the broker restarted
   after 2 s → B serves a miss: the delay after the broker returns, per round;
3. a chat in B → A's `GET /analytics/summary?scope=global` counts it: the global summary lag.

Run: `.venv/bin/python -m benchmarks.regions [invalidations] [rollup_interval_s]` (50, 1).
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt

import embedded_redis
from benchmarks._util import ROOT, serve, table

SECRET = "bench-secret-" + "x" * 32
MESSAGE = "What is the capital of France?"


@dataclass
class Region:
    name: str
    data: embedded_redis.EmbeddedRedis
    broker: embedded_redis.EmbeddedRedis
    url: str = ""


def _until(check: Callable[[], bool], timeout_s: float, every_s: float = 0.01) -> float:
    """Seconds until `check()` holds (raises after `timeout_s`)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        with contextlib.suppress(httpx.HTTPError):
            if check():
                return time.monotonic() - start
        time.sleep(every_s)
    raise RuntimeError(f"not within {timeout_s} s")


def _token(sub: str, role: str | None = None) -> str:
    claims: dict[str, object] = {"sub": sub, "exp": int(time.time()) + 3600}
    if role:
        claims["role"] = role
    return jwt.encode(claims, SECRET, algorithm="HS256")


@contextlib.contextmanager
def two_regions(tmp: Path, rollup_s: float) -> Iterator[tuple[Region, Region]]:
    made = [
        Region(n, embedded_redis.start(tmp / n / "data"), embedded_redis.start(tmp / n / "mq"))
        for n in ("a", "b")
    ]
    brokers = json.dumps({r.name: f"{r.broker.url}/0" for r in made})
    common = {
        "JWT_SECRET": SECRET,
        "DATABASE_URL": f"sqlite:///{tmp / 'shared.sqlite3'}",
        "REGION_BROKERS": brokers,
        "ANALYTICS_ROLLUP_INTERVAL": str(rollup_s),
        "CACHE_OUTBOX_INTERVAL": "1",
        "CELERY_PUBLISH_TIMEOUT": "1",
        "CELERY_TASK_EVENTS": "false",
        "CACHE_WARMUP_ENABLED": "false",
        "WEB_WRITE_BEHIND_INTERVAL_MS": "50",
        "RATE_LIMIT_ENABLED": "false",
    }
    schema = "from shared import db; db.ensure_schema()"
    subprocess.run(
        [sys.executable, "-c", schema],
        cwd=ROOT,
        env={**os.environ, **common, "REGION": "a"},
        check=True,
    )
    procs: list[subprocess.Popen[bytes]] = []
    with contextlib.ExitStack() as stack:
        try:
            for r in made:
                env = {
                    **os.environ,
                    **common,
                    "REGION": r.name,
                    "REDIS_URL": f"{r.data.url}/0",
                    "BROKER_URL": f"{r.broker.url}/0",
                }
                celery = [sys.executable, "-m", "celery", "-A", "workers"]
                log = (tmp / r.name / "celery.log").open("ab")
                stack.callback(log.close)
                worker = [*celery, "worker", "--pool", "threads", "-c", "4", "-n", f"{r.name}@%h"]
                for args in (worker, [*celery, "beat"]):
                    procs.append(subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=log))
                port = embedded_redis.free_port()
                web = [
                    sys.executable,
                    "-m",
                    "web.serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ]
                r.url = stack.enter_context(
                    serve(web, port, {**env, "WEB_CONCURRENCY": "1"}, log=tmp / r.name / "web.log")
                )
            yield made[0], made[1]
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=30)
            stack.close()
            for r in made:
                r.data.stop()
                r.broker.stop()


def _chat(region: Region, user: str) -> str:
    response = httpx.post(
        f"{region.url}/chat",
        json={"message": MESSAGE, "model": "demo"},
        headers={"Authorization": f"Bearer {user}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.headers["X-Cache"]


def _invalidate(a: Region, admin: str) -> dict[str, object]:
    response = httpx.post(
        f"{a.url}/admin/cache/invalidate",
        json={"tag": "model:demo"},
        headers={"Authorization": f"Bearer {admin}"},
        timeout=10,
    )
    response.raise_for_status()
    body: dict[str, object] = response.json()
    return body


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    rollup_s = float(sys.argv[2]) if len(sys.argv) > 2 else 1.0
    user, admin = _token("alice"), _token("root", "admin")
    tmp = Path(tempfile.mkdtemp(prefix="bench-regions-"))
    with two_regions(tmp, rollup_s) as (a, b):
        _until(lambda: _chat(b, user) == "hit", 60, 0.2)  # both stacks up, B's entry cached
        # One unmeasured round: the first fan-out opens the web's sender threads and connections.
        _invalidate(a, admin)
        _until(lambda: _chat(b, user) == "miss", 30)
        reach: list[float] = []
        call: list[float] = []  # the admin call alone: this region's publish plus the fan-out
        for _ in range(n):
            _until(lambda: _chat(b, user) == "hit", 10)
            started = time.monotonic()
            _invalidate(a, admin)
            call.append(time.monotonic() - started)
            _until(lambda: _chat(b, user) == "miss", 30)
            reach.append(time.monotonic() - started)

        back: list[float] = []
        call_pending: list[float] = []
        for _ in range(2):
            _until(lambda: _chat(b, user) == "hit", 10)
            b.broker.stop()
            started = time.monotonic()
            body = _invalidate(a, admin)
            call_pending.append(time.monotonic() - started)
            assert body["regions"]["b"]["state"] == "pending", body  # type: ignore[index]
            time.sleep(2)
            b.broker = embedded_redis.start(tmp / "b" / "mq", port=b.broker.port)
            back.append(_until(lambda: _chat(b, user) == "miss", 120, 0.05))

        lag: list[float] = []
        for _ in range(3):
            before = httpx.get(f"{a.url}/analytics/summary?scope=global").json()
            _chat(b, user)
            lag.append(
                _until(
                    lambda before=before: (
                        httpx.get(f"{a.url}/analytics/summary?scope=global").json()[
                            "messages_total"
                        ]
                        > before["messages_total"]
                    ),
                    60,
                    0.05,
                )
            )
    ms = 1000.0
    print(
        "slowest invalidations (ms, call index):",
        sorted(((round(t * ms), i) for i, t in enumerate(reach)), reverse=True)[:3],
    )
    print(
        table(
            ["figure", "samples", "p50", "p99 / max", "unit"],
            [
                ["the admin call in A (B sent)", n, f"{_pct(call, 50) * ms:.0f}",
                 f"{_pct(call, 99) * ms:.0f} / {max(call) * ms:.0f}", "ms"],
                ["the admin call in A (B's broker down: pending)", len(call_pending),
                 f"{statistics.median(call_pending) * ms:.0f}", f"{max(call_pending) * ms:.0f}",
                 "ms"],
                ["A's admin call → B serves a miss", n, f"{_pct(reach, 50) * ms:.0f}",
                 f"{_pct(reach, 99) * ms:.0f} / {max(reach) * ms:.0f}", "ms"],
                ["B's broker back → B serves a miss (pending)", len(back),
                 f"{statistics.median(back):.2f}", f"{max(back):.2f}", "s"],
                [f"global summary lag (ANALYTICS_ROLLUP_INTERVAL={rollup_s:g})", len(lag),
                 f"{statistics.median(lag):.2f}", f"{max(lag):.2f}", "s"],
            ],
        )
    )  # fmt: skip


if __name__ == "__main__":
    main()
