"""POST /chat against a real server process: the flood bound, the write-behind buffer's drain on
SIGTERM and what a SIGKILL can lose (counts only; guard state intact)."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections import Counter

import httpx
import jwt
import orjson
import redis

from shared import keys
from shared.settings import get_settings
from tests.fixtures.processes import wait_for
from tests.fixtures.web_server import WebServer, WebServerFactory


def _token(sub: str) -> str:
    claims = {"sub": sub, "exp": int(time.time() + 600)}
    return jwt.encode(claims, get_settings().web.jwt_secret or "", algorithm="HS256")


async def _flood(url: str, token: str, connections: int, seconds: float) -> Counter[int]:
    """`connections` keep-alive HTTP/1.1 clients posting /chat back to back for `seconds`.

    Raw sockets, not an HTTP library: the client must cost little CPU on a 2-core machine so
    that the server, not the client, is what saturates.
    """
    host, port = url.removeprefix("http://").split(":")
    body = orjson.dumps({"message": "flood"})
    request = (
        f"POST /chat HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    codes: Counter[int] = Counter()
    deadline = time.monotonic() + seconds

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.monotonic() < deadline:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head)[1])  # type: ignore[index]
                await reader.readexactly(length)
                codes[int(head.split(b" ", 2)[1])] += 1
        finally:
            writer.close()

    await asyncio.gather(*(client() for _ in range(connections)))
    return codes


def _decisions(server: WebServer) -> dict[str, float]:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for outcome, value in re.findall(
        r'chatbot_rate_limit_decisions_total\{[^}]*outcome="(\w+)"[^}]*\} ([0-9.e+]+)', text
    ):
        found[outcome] = found.get(outcome, 0.0) + float(value)
    return found


def test_a_flood_on_one_identity_never_admits_unchecked(web_server: WebServerFactory) -> None:
    limit, window_s, seconds = 20, 60.0, 10.0
    server = web_server(
        {
            "RATE_LIMIT_REQUESTS": str(limit),
            "RATE_LIMIT_WINDOW": str(window_s),
            "TOKEN_LIMIT_PER_MINUTE": "0",
            # Short enough that the loop's own queue exceeds it under 64 connections: the case
            # where a deadline that measured the queue failed open.
            "GUARD_REDIS_TIMEOUT": "0.05",
            "LOG_LEVEL": "WARNING",
        }
    )
    started = time.monotonic()
    codes = asyncio.run(_flood(server.url, _token("flooder"), 64, seconds))
    elapsed = time.monotonic() - started
    decisions = _decisions(server)
    emission_s = window_s / limit
    assert sum(codes.values()) > 500, codes  # a flood it was
    assert set(codes) <= {200, 429, 503}, codes
    assert codes[200] <= limit + elapsed / emission_s + 1, (codes, decisions)
    assert decisions.get("error", 0) == 0, (codes, decisions)
    assert decisions.get("allowed", 0) == codes[200]


def _buffered_server(web_server: WebServerFactory) -> WebServer:
    """A server whose post-response writes stay buffered until shutdown (10 s, big batch)."""
    return web_server(
        {
            "WEB_WRITE_BEHIND_INTERVAL_MS": "10000",
            "WEB_WRITE_BEHIND_BATCH": "10000",
            "TOKEN_LIMIT_PER_MINUTE": "2000",
            "TOKEN_ESTIMATE_COMPLETION": "100",
            "TOKEN_RESERVATION_TTL": "2",
            "RATE_LIMIT_REQUESTS": "1000",
        }
    )


def _chat_misses(server: WebServer, n: int) -> list[httpx.Response]:
    headers = {"Authorization": f"Bearer {_token('writer')}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=10) as http:
        answers = [http.post("/chat", json={"message": f"question {i}"}) for i in range(n)]
    assert [a.headers["X-Cache"] for a in answers] == ["miss"] * n
    return answers


def _reservations(r: redis.Redis) -> list[bytes]:
    return list(r.scan_iter(match=keys.rate_limit("u.writer", "res:") + "*"))


def _tokens_tat(r: redis.Redis) -> int:
    return int(r.get(keys.rate_limit("u.writer", "tokens")) or 0)


def test_sigterm_flushes_every_buffered_write(web_server: WebServerFactory, r: redis.Redis) -> None:
    server = _buffered_server(web_server)
    n = 12
    answers = _chat_misses(server, n)
    # Still buffered: the answers are out, their settles and events are not.
    assert r.xlen(keys.events_stream()) == 0
    assert len(_reservations(r)) == n
    server.proc.send_signal(signal.SIGTERM)
    # uvicorn re-raises the signal after its graceful shutdown: -SIGTERM, not a crash
    assert server.proc.wait(timeout=20) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server.output()
    events = [orjson.loads(f[b"e"]) for _, f in r.xrange(keys.events_stream())]
    assert len(events) == n  # analytics totals equal the events sent
    assert sorted(e["ct"] for e in events) == sorted(
        a.json()["usage"]["completion_tokens"] for a in answers
    )
    assert _reservations(r) == []  # every reservation settled
    # settled to what was used: the bucket holds the real usage, not the 12 estimates
    used = sum(sum(a.json()["usage"].values()) for a in answers)
    emission_us = 60_000_000 // 2000
    now_us = int(time.time() * 1e6)
    assert _tokens_tat(r) - now_us <= used * emission_us


def test_sigkill_loses_counts_only(web_server: WebServerFactory, r: redis.Redis) -> None:
    server = _buffered_server(web_server)
    n = 12
    started_us = time.time() * 1e6
    answers = _chat_misses(server, n)
    minute_tat = int(r.get(keys.rate_limit("u.writer", "minute")) or 0)
    tokens_tat = _tokens_tat(r)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(timeout=10)
    # Lost: the buffered counts (analytics events, settles). Kept: every guard decision.
    assert r.xlen(keys.events_stream()) == 0
    assert int(r.get(keys.rate_limit("u.writer", "minute")) or 0) == minute_tat > 0
    assert _tokens_tat(r) == tokens_tat
    # The unsettled reservations keep their estimates charged (more than was used) and the
    # records expire by themselves.
    estimates = n * 100
    assert estimates > sum(sum(a.json()["usage"].values()) for a in answers)
    pending = _reservations(r)
    assert len(pending) == n
    assert all(0 < r.pttl(k) <= 2000 for k in pending)
    wait_for(lambda: not _reservations(r), timeout_s=10, what="reservations expired")
    assert _tokens_tat(r) == tokens_tat  # expiry refunds nothing: the estimates stay charged
    # the bucket moved by at least every estimate: nothing was settled down to the usage
    assert tokens_tat >= started_us + estimates * 60_000_000 // 2000


def test_refusals_are_audited_once_per_episode_across_processes(
    web_server: WebServerFactory, r: redis.Redis
) -> None:
    server = web_server({"RATE_LIMIT_REQUESTS": "1", "TOKEN_LIMIT_PER_MINUTE": "0"}, workers=2)
    headers = {"Authorization": f"Bearer {_token('mallory')}", "Connection": "close"}
    codes = [
        httpx.post(f"{server.url}/chat", json={"message": "hi"}, headers=headers, timeout=10)
        for _ in range(30)
    ]
    assert [c.status_code for c in codes] == [200] + [429] * 29
    server.stop()  # both processes drain their buffers
    events = [f for _, f in r.xrange(keys.audit_stream()) if f[b"type"] == b"guard.rejected"]
    assert len(events) == 1  # one episode, whichever process saw its first refusal
    assert r.get(keys.audit_refusal_suppressed("guard.rejected", "user:mallory")) == b"28"
