"""Precomputed snapshots: one JSON document per name, written by a beat task, read by the web.

Every snapshot carries `generated_at` (epoch seconds) and `version`; readers compute its age and
decide staleness against the writer's interval (about two intervals is stale).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from shared import keys
from shared.pipeline import AnyPipeline, queue_json_set
from shared.redis_client import RedisClient

SNAPSHOT_VERSION = 1


@dataclass(frozen=True)
class Snapshot:
    data: dict[str, Any]
    generated_at: float
    version: int

    def age_s(self, now: float | None = None) -> float:
        return max(0.0, (time.time() if now is None else now) - self.generated_at)

    def is_stale(self, interval_s: float, now: float | None = None) -> bool:
        return self.age_s(now) > 2 * interval_s


def queue_write(
    pipe: AnyPipeline, name: str, data: dict[str, Any], *, ttl_s: float, now: float | None = None
) -> None:
    """Queue the write of snapshot `name` (SET with TTL)."""
    envelope = {
        "version": SNAPSHOT_VERSION,
        "generated_at": time.time() if now is None else now,
        "data": data,
    }
    queue_json_set(pipe, keys.snapshot(name), envelope, ttl_s)


def parse(raw: bytes | str | None) -> Snapshot | None:
    """Decode a stored snapshot; None when missing or unreadable (treated as missing)."""
    if raw is None:
        return None
    try:
        envelope = orjson.loads(raw)
        return Snapshot(envelope["data"], float(envelope["generated_at"]), int(envelope["version"]))
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def read(client: RedisClient, name: str) -> Snapshot | None:
    """Read snapshot `name` in one GET."""
    return parse(client.get(keys.snapshot(name)))
