"""Read the audit trail newest first across the Redis tail and the SQL archive, exactly once.

Correctness of the merge rests on one ordering: read the watermark mirror W first, then the
Redis entries with id > W, then SQL. Every entry <= W was committed to SQL before W was
mirrored, so SQL (read last) holds it even if a trim removed it from Redis in between; entries
> W come from Redis, and any that were archived meanwhile are dropped as duplicates by id.

Pages are keyed by the stream id: `cursor` is the id of the last item of the previous page and
the next page holds only strictly older events. Time filters become stream id bounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, and_, func, select, tuple_

from shared import keys
from shared.audit.append import Event, parse_entry, parse_id
from shared.models.audit import EVENTS, STATE, region, state_name
from shared.redis_client import AsyncRedisClient, as_bytes, stream_entries

_EVENTS = EVENTS
_STATE = STATE
_REDIS_CHUNK = 500
# Above every real stream id, and within a signed 64-bit SQL integer.
MAX_ID = (2**63 - 1, 0)
# Filters outside these bounds are the caller's mistake, refused before any Redis or SQL call:
# Redis answers an out-of-range id with an error (read as an outage) and SQL integers stop at
# 2**63. Times run from the epoch (no stream id is older) to the last instant `datetime` knows.
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
MAX_SEQ = 2**63 - 1


def parse_cursor(raw: str) -> tuple[int, int]:
    """(ms, seq) of a page cursor: a stream id above 0-0, at most MAX_MS-MAX_SEQ.

    Raises:
        ValueError: not a stream id, or outside that range.
    """
    ms, seq = parse_id(raw)
    if (ms, seq) == (0, 0) or ms > MAX_MS or seq > MAX_SEQ:
        raise ValueError(f"stream id out of range: {raw!r}")
    return ms, seq


def parse_time_ms(raw: str) -> int:
    """Epoch milliseconds of an ISO 8601 time (UTC when no offset) or of epoch seconds.

    Raises:
        ValueError: neither form, not finite, or outside 1970-01-01 .. 9999-12-31 (UTC).
    """
    try:
        seconds = float(raw)
    except ValueError:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        seconds = parsed.timestamp()
    if not math.isfinite(seconds) or not 0 <= (ms := math.floor(seconds * 1000)) <= MAX_MS:
        raise ValueError(f"time out of range: {raw!r}")
    return ms


@dataclass(frozen=True)
class Filters:
    actor: str | None = None
    event_type: str | None = None
    since_ms: int | None = None
    until_ms: int | None = None

    def match(self, event: Event) -> bool:
        return (self.actor is None or event.actor == self.actor) and (
            self.event_type is None or event.event_type == self.event_type
        )


def _upper(filters: Filters, cursor: str | None) -> tuple[int, int]:
    """The exclusive upper bound (ms, seq) of a page."""
    bound = parse_id(cursor) if cursor else MAX_ID
    if filters.until_ms is not None:
        bound = min(bound, (filters.until_ms + 1, 0))
    return bound


def _id(bound: tuple[int, int]) -> str:
    return f"{bound[0]}-{bound[1]}"


@dataclass
class RedisPart:
    events: list[Event]
    frontier: str | None  # scan stopped early here; the page must not go below it


async def redis_tail(
    client: AsyncRedisClient,
    filters: Filters,
    cursor: str | None,
    want: int,
    scan_max: int,
) -> tuple[str, RedisPart]:
    """(W, matching un-archived Redis entries newest first): GET W, then XREVRANGE chunks.

    Redis work: one GET, then XREVRANGE of at most 500 entries per round trip, until `want`
    matches, the watermark, or `scan_max` entries scanned.
    """
    raw = as_bytes(await client.get(keys.audit_watermark()))
    watermark = raw.decode() if raw else "0-0"
    low = max(parse_id(watermark), ((filters.since_ms or 0), 0))
    low_arg = ("(" + watermark) if low == parse_id(watermark) else _id(low)
    upper = _upper(filters, cursor)
    high_arg = "+" if upper == MAX_ID else "(" + _id(upper)
    found: list[Event] = []
    scanned = 0
    while True:
        chunk = stream_entries(
            await client.xrevrange(
                keys.audit_stream(), max=high_arg, min=low_arg, count=_REDIS_CHUNK
            )
        )
        scanned += len(chunk)
        for sid, fields in chunk:
            event = parse_entry(sid, fields)
            if filters.match(event):
                found.append(event)
        if len(chunk) < _REDIS_CHUNK or len(found) >= want:
            return watermark, RedisPart(found, None)
        last = chunk[-1][0]
        last_id = last.decode() if isinstance(last, bytes) else str(last)
        if scanned >= scan_max:
            return watermark, RedisPart(found, last_id)
        high_arg = "(" + last_id


def archive_page(engine: Engine, filters: Filters, cursor: str | None, want: int) -> list[Event]:
    """Up to `want` archived events strictly older than `cursor`, newest first (one query)."""
    order = tuple_(_EVENTS.c.ms, _EVENTS.c.seq)
    conds = [order < tuple_(*_upper(filters, cursor)), _EVENTS.c.region == region()]  # type: ignore[operator]
    if filters.since_ms is not None:
        conds.append(_EVENTS.c.ms >= filters.since_ms)
    if filters.actor is not None:
        conds.append(_EVENTS.c.actor == filters.actor)
    if filters.event_type is not None:
        conds.append(_EVENTS.c.event_type == filters.event_type)
    with engine.connect() as conn:
        rows = (
            conn.execute(
                select(_EVENTS)
                .where(and_(*conds))
                .order_by(_EVENTS.c.ms.desc(), _EVENTS.c.seq.desc())
                .limit(want)
            )
            .mappings()
            .all()
        )
    return [
        Event(
            id=r["stream_id"],
            ms=r["ms"],
            seq=r["seq"],
            event_type=r["event_type"],
            actor=r["actor"],
            details_json=r["details"],
            ip=r["ip"],
            correlation_id=r["correlation_id"],
            result=r["result"],
        )
        for r in rows
    ]


def merge_page(
    tail: RedisPart, archived: Sequence[Event], limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """Merge both sources newest first, each id once; (items, next_cursor)."""
    by_id: dict[str, tuple[Event, str]] = {e.id: (e, "archive") for e in archived}
    for event in tail.events:
        by_id.setdefault(event.id, (event, "redis"))
    merged = sorted(by_id.values(), key=lambda pair: (pair[0].ms, pair[0].seq), reverse=True)
    if tail.frontier is not None:
        floor = parse_id(tail.frontier)
        merged = [p for p in merged if (p[0].ms, p[0].seq) >= floor]
    page = merged[:limit]
    items = [event.to_api(source) for event, source in page]
    if len(merged) > limit:
        return items, page[-1][0].id
    if tail.frontier is not None:
        return items, page[-1][0].id if len(page) == limit else tail.frontier
    return items, None


def archive_counts(engine: Engine) -> dict[str, Any]:
    """Rows in the archive (from the state row, O(1)) and the archive watermark."""
    with engine.connect() as conn:
        row = conn.execute(select(_STATE).where(_STATE.c.name == state_name())).mappings().first()
        if row is None:
            mine = select(func.count()).select_from(_EVENTS).where(_EVENTS.c.region == region())
            count = conn.execute(mine).scalar_one()
            return {"archived": int(count), "watermark": None}
    return {
        "archived": int(row["archived_total"] - row["purged_total"]),
        "watermark": row["watermark_id"],
    }
