"""Token-owned Redis run-locks, so that a slow periodic run never overlaps the next one.

The lock is a plain string holding a random token, set with NX and a TTL; only the owner of the
token may extend or release it (Lua compare-and-act). A run that outlives its TTL loses the lock
and `RunLock.held` says so; the TTL is the task's hard time limit, so it cannot be lost by a live
run.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from shared import keys
from shared.lua import script
from shared.redis_client import RedisClient


@dataclass
class RunLock:
    client: RedisClient
    key: str
    token: str
    acquired: bool

    def extend(self, ttl_s: float) -> bool:
        """Push the expiry to `ttl_s` from now; False when the lock was lost."""
        ok = script(self.client, "lock_extend")(
            keys=[self.key], args=[self.token, int(ttl_s * 1000)]
        )
        return bool(ok)

    @property
    def held(self) -> bool:
        return self.client.get(self.key) == self.token.encode()

    def release(self) -> bool:
        ok = script(self.client, "lock_release")(keys=[self.key], args=[self.token])
        return bool(ok)


def try_acquire(client: RedisClient, name: str, ttl_s: float) -> RunLock:
    """Try once to take the run-lock `name` for `ttl_s` seconds; see `RunLock.acquired`."""
    key = keys.run_lock(name)
    token = secrets.token_hex(16)
    acquired = bool(client.set(key, token, nx=True, px=int(ttl_s * 1000)))
    return RunLock(client, key, token, acquired)


@contextmanager
def run_lock(client: RedisClient, name: str, ttl_s: float) -> Iterator[RunLock]:
    """Hold the run-lock `name` for the body when it is free; always released by its owner."""
    lock = try_acquire(client, name, ttl_s)
    try:
        yield lock
    finally:
        if lock.acquired:
            lock.release()
