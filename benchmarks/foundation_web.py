"""GET /health/advanced (reads the precomputed snapshot) vs a constant FastAPI endpoint.

Same uvicorn process, same wrk load, rounds interleaved so drift hits both alike.
Run: `.venv/bin/python -m benchmarks.foundation_web [seconds] [rounds]`.
"""

from __future__ import annotations

import statistics
import sys

from fastapi import FastAPI

from benchmarks._util import private_redis, table, uvicorn_server, wrk


def bench_app() -> FastAPI:
    """Our app plus one constant route, for the side-by-side comparison."""
    from web.app import create_app  # noqa: PLC0415  (reads settings from the harness env)

    app = create_app()

    @app.get("/bench/constant")
    async def constant() -> dict[str, str]:
        return {"status": "pass"}

    return app


def _measure(env: dict[str, str], seconds: int, rounds: int) -> dict[str, dict[str, float]]:
    with uvicorn_server("benchmarks.foundation_web:bench_app", env) as base:
        wrk(f"{base}/bench/constant", seconds=2)  # warm-up
        runs: dict[str, list[dict[str, float]]] = {"constant": [], "advanced": []}
        for _ in range(rounds):
            runs["constant"].append(wrk(f"{base}/bench/constant", seconds=seconds))
            runs["advanced"].append(wrk(f"{base}/health/advanced", seconds=seconds))
    assert all(r["non2xx"] == 0 for rs in runs.values() for r in rs), runs
    return {
        k: {m: statistics.median(r[m] for r in v) for m in ("rps", "p99_ms")}
        for k, v in runs.items()
    }


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    rows = []
    with private_redis() as server:
        base_env = {"REDIS_URL": f"{server.url}/0", "HEALTH_PROBE_INTERVAL": "3600"}
        _seed_snapshot(base_env)
        for ttl in ("1", "0"):
            med = _measure({**base_env, "WEB_SNAPSHOT_CACHE_TTL": ttl}, seconds, rounds)
            ratio = med["advanced"]["rps"] / med["constant"]["rps"]
            rows.append(
                [
                    f"WEB_SNAPSHOT_CACHE_TTL={ttl}",
                    f"{med['constant']['rps']:.0f}",
                    f"{med['advanced']['rps']:.0f}",
                    f"{ratio:.2f}",
                    f"{med['constant']['p99_ms']:.1f}",
                    f"{med['advanced']['p99_ms']:.1f}",
                ]
            )
    header = [
        "config",
        "constant req/s",
        "advanced req/s",
        "ratio",
        "constant p99 ms",
        "advanced p99 ms",
    ]
    print(table(header, rows))


def _seed_snapshot(env: dict[str, str]) -> None:
    import os  # noqa: PLC0415

    os.environ.update(env)
    from shared import health  # noqa: PLC0415
    from shared.redis_client import get_redis  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    report = health.build_report(
        [health.Check("redis:connectedClients", 1, "clients", "pass")] * 12,
        __import__("time").time(),
    )
    health.write_snapshot(get_redis(), report, get_settings())


if __name__ == "__main__":
    main()
