"""The floor every Redis figure is judged against: redis-benchmark PING and EVALSHA, same server.

EVALSHA runs our smallest real script (`lock_release.lua`, a GET and a compare) so the floor
includes script dispatch. Run: `.venv/bin/python -m benchmarks.foundation_floor [requests]`.
"""

from __future__ import annotations

import re
import subprocess
import sys

import redis

from benchmarks._util import private_redis, table
from shared.lua import source


def _rps(out: str) -> float:
    return float(re.search(r"([\d.]+) requests per second", out).group(1))  # type: ignore[union-attr]


def main() -> None:
    n = sys.argv[1] if len(sys.argv) > 1 else "200000"
    rows = []
    with private_redis() as server:
        sha = redis.Redis.from_url(server.url).script_load(source("lock_release"))
        base = ["redis-benchmark", "-p", str(server.port), "-n", n, "-q"]
        for clients, pipeline in ((1, 1), (50, 1), (50, 16)):
            extra = ["-c", str(clients), "-P", str(pipeline)]
            ping = _rps(
                subprocess.run(
                    [*base, *extra, "-t", "ping_mbulk"], capture_output=True, text=True, check=True
                ).stdout
            )
            evalsha = _rps(
                subprocess.run(
                    [*base, *extra, "evalsha", sha, "1", "bench:lock", "token"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            rows.append([clients, pipeline, f"{ping:.0f}", f"{evalsha:.0f}"])
    print(table(["clients", "pipeline", "PING/s", "EVALSHA/s"], rows))


if __name__ == "__main__":
    main()
