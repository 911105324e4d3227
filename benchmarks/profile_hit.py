"""Where one web process spends its CPU on a /chat cache hit: py-spy under `wrk -t1 -c16`.

The server is started as `benchmarks.chat_path` starts "ours hit" (same env, limits and uvicorn
flags, private redis-server, one pre-warmed message), driven by wrk for the profile's duration
while `py-spy record --format raw` samples the uvicorn process (GIL-holding and idle samples
both: idle is the share of time the loop waits in epoll). Each sample is attributed to one area
by its stack: the innermost frame that belongs to a known area (self time), and every area that
appears anywhere on the stack (cumulative).
Run: `.venv/bin/python -m benchmarks.profile_hit [seconds] [connections]` (defaults 15 and 16).
Needs wrk (`apt-get install wrk`) and py-spy (in the venv).
"""

from __future__ import annotations

import collections
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks._util import ROOT, private_redis, require_wrk, table, uvicorn_server, wrk
from benchmarks.chat_path import HIT_LUA, MESSAGE, bench_token, ours_env

# Order matters: the first area whose marker is in a frame's file path names it.
AREAS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("our guard/admission", ("/web/admission", "/shared/guards/", "/web/loop_lag")),
    ("our write-behind", ("/web/write_behind",)),
    ("our chat route/cache", ("/web/routes/", "/shared/cache/", "/shared/analytics/")),
    ("our auth (JWT decode)", ("/web/auth", "/jwt/", "/cryptography/", "hmac.py", "hashlib")),
    ("our middleware/metrics", ("/web/middleware", "/web/metrics", "prometheus_client")),
    ("our other code", ("/web/", "/shared/")),
    ("redis-py/hiredis", ("/redis/", "hiredis")),
    ("pydantic validation", ("pydantic",)),
    ("orjson/json (response, body)", ("orjson", "/json/")),
    ("FastAPI routing + DI", ("/fastapi/",)),
    ("Starlette routing/middleware", ("/starlette/",)),
    ("uvicorn/httptools protocol", ("/uvicorn/", "httptools", "/h11/")),
    ("asyncio event loop", ("/asyncio/", "selectors.py", "uvloop")),
)


def area_of(frame: str) -> str | None:
    frame = frame.replace("(", "(/")  # py-spy shortens site-packages paths: "(redis/client.py:1)"
    for name, markers in AREAS:
        if any(m in frame for m in markers):
            return name
    return None


IDLE = "idle (loop waits for I/O)"


def summarise(raw: Path) -> tuple[int, int, collections.Counter[str], collections.Counter[str]]:
    """(event-loop samples, other threads' samples, self area counts, cumulative area counts)
    from py-spy's collapsed stacks."""
    selfs: collections.Counter[str] = collections.Counter()
    cumul: collections.Counter[str] = collections.Counter()
    total = others = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        # Helper threads (executors, a metrics thread) sleep in Condition.wait: not the loop.
        if frames[0].startswith("Thread._bootstrap"):
            others += n
            continue
        total += n
        leaf = frames[-1]
        # uvloop's run_forever is C: an idle loop shows Runner.run (or select) as the leaf.
        idle = leaf.startswith(("Runner.run (", "select (", "EpollSelector.select"))
        areas = [a for a in (area_of(f) for f in frames) if a]
        selfs[IDLE if idle else (areas[-1] if areas else "other")] += n
        for a in set(areas):
            cumul[a] += n
    return total, others, selfs, cumul


def main() -> None:
    require_wrk()
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    conns = int(sys.argv[2]) if len(sys.argv) > 2 else 16
    tmp = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    token = bench_token(3600)
    script = tmp / "hit.lua"
    script.write_text(HIT_LUA.format(token=token, message=MESSAGE))
    raw = tmp / "hit.raw"
    with private_redis() as server:
        env = {**ours_env(server.url), "DATABASE_URL": f"sqlite:///{tmp}/ours.sqlite3"}
        with uvicorn_server("web.app:create_app", env, log=tmp / "web.log") as base:
            pid = int(
                subprocess.run(
                    ["pgrep", "-n", "-f", "--", f"--port {base.rsplit(':', 1)[1]}"],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.split()[0]
            )
            with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"}) as c:
                for _ in range(2):
                    got = c.post(f"{base}/chat", json={"message": MESSAGE})
                assert got.headers.get("X-Cache") == "hit", dict(got.headers)
            wrk(f"{base}/chat", seconds=2, connections=conns, script=str(script))  # warm-up
            result: dict[str, dict[str, float]] = {}
            load = threading.Thread(
                target=lambda: result.update(
                    w=wrk(
                        f"{base}/chat", seconds=seconds + 2, connections=conns, script=str(script)
                    )
                )
            )
            load.start()
            time.sleep(1)
            spy = ROOT / ".venv" / "bin" / "py-spy"
            subprocess.run(
                [
                    str(spy),
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(seconds),
                    "--rate",
                    "250",
                    "--idle",
                    "--format",
                    "raw",
                    "-o",
                    str(raw),
                    "--nonblocking",
                ],
                check=True,
                capture_output=True,
            )
            load.join()
    total, others, selfs, cumul = summarise(raw)
    w = result["w"]
    print(
        f"`wrk -t1 -c{conns}` on our /chat hit, one web process: {w['rps']:,.0f} req/s, "
        f"p50 {w['p50_ms']:.1f} ms, p99 {w['p99_ms']:.1f} ms; py-spy {seconds} s at 250 Hz, "
        f"{total} event-loop samples ({others} of idle helper threads left out; raw: {raw}).\n"
    )
    busy = total - selfs[IDLE]
    rows: list[list[object]] = [
        [
            a,
            f"{n / total:.1%}",
            f"{n / busy:.1%}" if a != IDLE else "-",
            f"{cumul[a] / total:.1%}" if a in cumul else "-",
        ]
        for a, n in selfs.most_common()
    ]
    print(table(["area", "self % of loop", "self % of busy", "cumulative % of loop"], rows))


if __name__ == "__main__":
    main()
