"""The invalidation outbox: fan-outs another region's broker did not accept, kept until it does.

`POST /admin/cache/invalidate` publishes `cache.invalidate` to every other region's broker. A
region whose broker refuses or times out gets one field in this region's `cache:outbox` hash
(`<region>|<fan-out id>` → JSON), written in the same HSET as every other pending region of the
call. `cache.deliver_outbox` (beat) publishes each field again and HDELs it only once that
broker accepted: a crash between the two only publishes it twice, and an invalidation arriving
twice is harmless (a second tag or pattern sweep finds nothing more to remove; a second
generation bump costs the answers cached in between an extra miss).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from shared import keys
from shared.redis_client import RedisClient

log = logging.getLogger(__name__)
SCAN_COUNT = 200
# A send to a region's broker: (region name, invalidation kwargs) -> task id, None if refused.
Send = Callable[[str, dict[str, Any]], str | None]


def field_of(region: str, fanout_id: str) -> str:
    return f"{region}|{fanout_id}"


def entries(
    fanout_id: str, kwargs: Mapping[str, Any], regions: list[str], now_s: float
) -> dict[str, bytes]:
    """The outbox fields of one fan-out: one per pending region (one HSET writes them all)."""
    return {
        field_of(region, fanout_id): orjson.dumps(
            {"region": region, "fanout": fanout_id, "kwargs": dict(kwargs), "at": now_s}
        )
        for region in regions
    }


def pending(client: RedisClient, limit: int) -> list[tuple[str, dict[str, Any]]]:
    """At most `limit` outbox entries, oldest first (HSCAN: no full read of a huge outbox)."""
    found: list[tuple[str, dict[str, Any]]] = []
    for raw_field, raw in client.hscan_iter(keys.cache_outbox(), count=SCAN_COUNT):
        field = raw_field.decode() if isinstance(raw_field, bytes) else str(raw_field)
        try:
            found.append((field, orjson.loads(raw)))
        except orjson.JSONDecodeError:
            log.warning("outbox entry %s is not JSON; dropped", field)
            client.hdel(keys.cache_outbox(), field)
        if len(found) >= limit:
            break
    return sorted(found, key=lambda item: float(item[1].get("at", 0.0)))


def deliver(
    client: RedisClient,
    send: Send,
    regions: Mapping[str, str],
    *,
    limit: int = 500,
    budget_s: float = 30.0,
) -> dict[str, Any]:
    """Publish pending entries until each region's broker accepts them; returns the counts.

    After one refusal a region is skipped for the rest of the run, so a dead broker costs one
    publish timeout per run, not one per entry. An entry of a region no longer configured is
    kept (an operator may be renaming regions) and counted as `unknown`.
    """
    report: dict[str, Any] = {"delivered": 0, "failed": 0, "unknown": 0, "left": 0}
    stop_at = time.monotonic() + budget_s
    down: set[str] = set()
    for field, entry in pending(client, limit):
        region = str(entry.get("region", ""))
        if region not in regions:
            report["unknown"] += 1
            continue
        if region in down or time.monotonic() > stop_at:
            report["left"] += 1
            continue
        if send(region, dict(entry.get("kwargs", {}))) is None:
            log.info("outbox: region %s still refuses", region)
            down.add(region)
            report["failed"] += 1
            continue
        client.hdel(keys.cache_outbox(), field)
        report["delivered"] += 1
    report["regions_down"] = sorted(down)
    return report
