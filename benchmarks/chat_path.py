"""POST /chat side by side with its baselines, in one run: the request-path budget (DESIGN §8).

Five servers, started together on one private redis-server and measured in interleaved rounds
(every target at every connection count once per round; medians of the rounds):
- constant: a FastAPI `POST /chat` returning a constant JSON (`benchmarks.peer_app`);
- peer hit: slowapi fixed window over the same Redis + PyJWT + one redis.asyncio GET of an
  md5-keyed cached answer (`benchmarks.peer_app`), the stack a FastAPI user assembles;
- ours hit: our `POST /chat`, the same message every time (pre-warmed: every request a hit);
- ours miss: our `POST /chat` with the demo responder, a new message every request (wrk Lua);
- ours hit ×2: the hit with two web processes: `python -m web.serve` with WEB_CONCURRENCY=2
  when `web/serve.py` exists, else `uvicorn --workers 2`.
Every single-process server is `uvicorn --factory ... --log-level warning --no-access-log
--no-proxy-headers`; one JWT user; limits raised so nothing is refused (any non-2xx or socket
error is reported and fails the run). Load: `wrk -t1 -c{1,16,64} --latency`; wrk runs on the
same machine and takes CPU of its own, equally for every target.
Run: `.venv/bin/python -m benchmarks.chat_path [seconds] [rounds]` (defaults 5 and 2).
Needs wrk: `apt-get install wrk` (Debian's package).
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt

from benchmarks._util import (
    ROOT,
    private_redis,
    require_wrk,
    serve,
    table,
    uvicorn_server,
    wrk,
)
from embedded_redis import free_port

CONNECTIONS = (1, 16, 64)
MESSAGE = "what is the status of my order?"
JWT_SECRET = "bench-secret-" + "k" * 32
LIMITS = {  # high enough that nothing is refused, low enough for the guards' validation
    "RATE_LIMIT_REQUESTS": "10000000",
    "RATE_LIMIT_DAILY_REQUESTS": "1000000000",
    "TOKEN_LIMIT_PER_MINUTE": "60000000",
    "TOKEN_LIMIT_MODEL_PER_MINUTE": "60000000",
}
TARGETS = ("constant", "peer hit", "ours hit", "ours miss", "ours hit ×2")

_HEADERS = """wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
"""
HIT_LUA = _HEADERS + 'wrk.body = \'{{"message": "{message}"}}\'\n'
# One wrk thread (-t1), so a counter plus a per-run prefix makes every message new.
MISS_LUA = (
    _HEADERS
    + """local prefix, n = "", 0
function init(args) prefix = args[1] or "" end
function request()
  n = n + 1
  return wrk.format(nil, nil, nil, '{{"message": "question ' .. prefix .. ' number ' .. n .. '"}}')
end
"""
)


def ours_env(redis_url: str) -> dict[str, str]:
    """Our web app's environment: a private Redis, the bench secret, nothing refused."""
    return {
        "REDIS_URL": f"{redis_url}/0",
        "BROKER_URL": f"{redis_url}/1",
        "JWT_SECRET": JWT_SECRET,
        "HEALTH_PROBE_INTERVAL": "3600",
        **LIMITS,
    }


def bench_token(valid_s: int) -> str:
    """The one JWT user every harness sends."""
    claims = {"sub": "bench-user", "exp": int(time.time()) + valid_s}
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


def _two_processes(env: dict[str, str], tmp: Path) -> contextlib.AbstractContextManager[str]:
    """Our app with two web processes: the launcher when there is one, else uvicorn --workers."""
    log = tmp / "ours-x2.log"
    if (ROOT / "web" / "serve.py").exists():
        port = free_port()
        # As the Procfile's web line: the launcher takes host and port as arguments.
        args = [sys.executable, "-m", "web.serve", "--host", "127.0.0.1", "--port", str(port)]
        env = {
            **env,
            "WEB_CONCURRENCY": "2",
            "FORWARDED_ALLOW_IPS": "",
            "TRUSTED_PROXIES": "",
        }
        print(f"ours hit ×2: {' '.join(args[1:])}", file=sys.stderr)
        return serve(args, port, env, log=log)
    print("ours hit ×2: uvicorn --workers 2 (no web/serve.py)", file=sys.stderr)
    return uvicorn_server("web.app:create_app", env, extra=("--workers", "2"), log=log)


@contextlib.contextmanager
def _servers(redis_url: str, tmp: Path) -> Iterator[dict[str, str]]:
    ours = ours_env(redis_url)
    peer = {"REDIS_URL": f"{redis_url}/2", "JWT_SECRET": JWT_SECRET}
    with contextlib.ExitStack() as stack:

        def start(label: str, factory: str, env: dict[str, str]) -> str:
            env = {**env, "DATABASE_URL": f"sqlite:///{tmp}/{label}.sqlite3"}  # no schema race
            log = tmp / f"{label}.log"
            return stack.enter_context(uvicorn_server(factory, env, log=log))

        bases = {
            "constant": start("constant", "benchmarks.peer_app:constant_app", peer),
            "peer hit": start("peer", "benchmarks.peer_app:peer_app", peer),
            "ours hit": start("ours-hit", "web.app:create_app", ours),
            "ours miss": start("ours-miss", "web.app:create_app", ours),
            "ours hit ×2": stack.enter_context(
                _two_processes({**ours, "DATABASE_URL": f"sqlite:///{tmp}/x2.sqlite3"}, tmp)
            ),
        }
        yield bases


def _prewarm(bases: dict[str, str], token: str) -> None:
    """Fill both caches with the hit message, and check that ours then answers from cache."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=30, headers=headers) as client:
        for label, base in bases.items():
            for _ in range(2):
                got = client.post(f"{base}/chat", json={"message": MESSAGE})
                got.raise_for_status()
            if label.startswith("ours"):
                assert got.headers.get("X-Cache") == "hit", (label, dict(got.headers))


Medians = dict[tuple[str, int], dict[str, float]]  # (target, connections) -> wrk figures


def _load(bases: dict[str, str], scripts: dict[str, str], seconds: float, rounds: int) -> Medians:
    def run(target: str, conns: int, secs: float, tag: str) -> dict[str, float]:
        script = scripts["miss" if target == "ours miss" else "hit"]
        args = (tag,) if target == "ours miss" else ()
        return wrk(
            f"{bases[target]}/chat",
            seconds=secs,
            connections=conns,
            script=script,
            script_args=args,
        )

    for target in TARGETS:
        run(target, 16, min(seconds, 2), "warm")
    runs: dict[tuple[str, int], list[dict[str, float]]] = {}
    for r in range(rounds):
        for conns in CONNECTIONS:
            for target in TARGETS:
                runs.setdefault((target, conns), []).append(
                    run(target, conns, seconds, f"r{r}c{conns}")
                )
    return {
        key: {m: statistics.median(x[m] for x in rs) for m in rs[0]}
        | {"non2xx": sum(x["non2xx"] for x in rs), "errors": sum(x["errors"] for x in rs)}
        for key, rs in runs.items()
    }


def _decisions(base: str, outcome: str) -> float:
    """Sum of `chatbot_rate_limit_decisions_total{outcome=...}` from one /metrics scrape."""
    text = httpx.get(f"{base}/metrics", timeout=30).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("chatbot_rate_limit_decisions_total{") and f'outcome="{outcome}"' in line
    )


def _shed(base: str) -> float:
    """Requests answered 503 by the in-flight bound (`chatbot_web_shed_total`)."""
    text = httpx.get(f"{base}/metrics", timeout=30).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("chatbot_web_shed_total")
    )


def _report(med: Medians, seconds: float, rounds: int) -> bool:
    rows = []
    for c in CONNECTIONS:
        rps = {t: med[(t, c)]["rps"] for t in TARGETS}
        rows.append(
            [
                c,
                *(f"{rps[t]:,.0f}" for t in TARGETS),
                f"**{rps['ours hit'] / rps['peer hit']:.2f}**",
                f"**{rps['ours hit'] / rps['constant']:.2f}**",
                f"{rps['ours hit ×2'] / rps['ours hit']:.2f}",
            ]
        )
    print(f"`wrk -t1 --latency`, {rounds} interleaved rounds of {seconds:g} s, medians.\n")
    header = [
        "connections",
        *(f"{t} req/s" for t in TARGETS),
        "ours / peer",
        "ours / constant",
        "×2 / ×1",
    ]
    print(table(header, rows))
    rows = []
    clean = True
    for t in TARGETS:
        for c in CONNECTIONS:
            m = med[(t, c)]
            clean = clean and m["non2xx"] == 0 and m["errors"] == 0
            rows.append(
                [
                    t,
                    c,
                    *(f"{m[f'p{q}_ms']:.1f}" for q in (50, 90, 99)),
                    f"{m['non2xx']:.0f}",
                    f"{m['errors']:.0f}",
                ]
            )
    print()
    print(
        table(
            ["target", "connections", "p50 ms", "p90 ms", "p99 ms", "non-2xx", "socket errors"],
            rows,
        )
    )
    p99 = med[("ours hit", 64)]["p99_ms"] / med[("constant", 64)]["p99_ms"]
    print(f"\np99 at 64 connections, ours hit / constant: **{p99:.2f}** (target ≤ 2).")
    print("Targets: ours / peer ≥ 1.5 and ours / constant ≥ 0.5 at every connection count.")
    return clean


def main() -> None:
    require_wrk()
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 5.0
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    token = bench_token(6 * 3600)
    scripts = {}
    for name, text in (
        ("hit", HIT_LUA.format(token=token, message=MESSAGE)),
        ("miss", MISS_LUA.format(token=token)),
    ):
        (tmp / f"{name}.lua").write_text(text)
        scripts[name] = str(tmp / f"{name}.lua")
    with private_redis() as server, _servers(server.url, tmp) as bases:
        _prewarm(bases, token)
        med = _load(bases, scripts, seconds, rounds)
        ours = [t for t in TARGETS if t.startswith("ours")]
        unchecked = {t: _decisions(bases[t], "error") for t in ours}
        # A non-2xx from our app under load is normally a shed (503): say which, for the report.
        shed = {t: (_decisions(bases[t], "shed"), _shed(bases[t])) for t in ours}
    clean = _report(med, seconds, rounds)
    print(
        'Guard decisions with `outcome="error"` (admitted unchecked; target 0), from '
        "/metrics (×2: the process that answered the scrape): "
        + ", ".join(f"{t} {n:.0f}" for t, n in unchecked.items())
    )
    print(
        'Shed (503 + Retry-After): guard decisions `outcome="shed"` / in-flight bound: '
        + ", ".join(f"{t} {a:.0f}/{b:.0f}" for t, (a, b) in shed.items())
    )
    for log in sorted(tmp.glob("*.log")):
        lines = log.read_text(errors="replace").splitlines()
        if len(lines) > 20:  # an access log or a warning per request would skew the figures
            print(f"\nWARNING: {log.name} has {len(lines)} lines; last: {lines[-1][:200]}")
    if not clean:
        raise SystemExit("some requests were refused or failed: the figures are not comparable")


if __name__ == "__main__":
    main()
