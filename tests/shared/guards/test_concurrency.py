"""Exactness under contention: threads and processes racing on one identity / one session set."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import redis

from shared import keys
from shared.guards import gcra, sessions
from shared.guards.policies import Charge, Policy
from shared.redis_client import get_redis

ROOT = Path(__file__).resolve().parents[3]
LIMIT_5 = Policy("minute", 5, 3600.0)


def _race(n: int, fn: object) -> list[object]:
    barrier = threading.Barrier(n, timeout=30)

    def worker(_: int) -> object:
        barrier.wait()
        return fn()  # type: ignore[operator]

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(worker, range(n)))


def test_100_threads_on_one_identity_admit_exactly_5(r: redis.Redis) -> None:
    client = get_redis()
    charge = [Charge(LIMIT_5, keys.rate_limit("hot", "minute"), 1)]
    results = _race(100, lambda: gcra.check(client, gcra.GuardCall(charge)).allowed)
    assert results.count(True) == 5


_CHILD = """
import sys
from shared import keys
from shared.guards import gcra
from shared.guards.policies import Charge, Policy
from shared.redis_client import get_redis
client = get_redis()
charge = [Charge(Policy("minute", 5, 3600.0), keys.rate_limit("hot", "minute"), 1)]
client.ping()
sys.stdin.readline()  # start together
print(sum(gcra.check(client, gcra.GuardCall(charge)).allowed for _ in range(25)))
"""


def test_4_processes_on_one_identity_admit_exactly_5(r: redis.Redis) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(4)
    ]
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    totals = [int(p.communicate(timeout=60)[0].strip()) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sum(totals) == 5


def test_200_concurrent_session_opens_with_limit_3_give_exactly_3(r: redis.Redis) -> None:
    client = get_redis()
    limits = sessions.SessionLimits(3, 60.0)
    counter = iter(range(1000))
    lock = threading.Lock()

    def open_one() -> bool:
        with lock:
            sid = f"s{next(counter)}"
        try:
            sessions.acquire(client, "carol", sid, limits)
        except sessions.ConcurrencyLimitError:
            return False
        return True

    results = _race(200, open_one)
    assert results.count(True) == 3
    assert r.zcard(keys.sessions("carol")) == 3
