"""GET /admin/audit and /admin/audit/stats: the audit trail for administrators.

Not the chat request path, but still bounded: one page costs one GET, a few XREVRANGE chunks
(at most AUDIT_QUERY_SCAN_MAX entries scanned) and one indexed SQL query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.concurrency import run_in_threadpool

from shared import keys
from shared.audit.append import actor_of
from shared.audit.query import (
    Filters,
    archive_counts,
    archive_page,
    merge_page,
    parse_cursor,
    parse_time_ms,
    redis_tail,
)
from shared.audit.verify import last_verification, record, verify_chain
from shared.db import get_engine
from shared.models.audit import ensure_tables
from shared.settings import get_settings
from web.auth import require_admin
from web.deps import Redis

router = APIRouter(prefix="/admin/audit", tags=["audit"], dependencies=[Depends(require_admin)])


def _time_ms(name: str, raw: str | None) -> int | None:
    """Epoch milliseconds of an ISO 8601 time or epoch seconds; 422 naming `name` when bad."""
    if raw is None or raw == "":
        return None
    try:
        return parse_time_ms(raw)
    except ValueError:
        raise HTTPException(
            422, f"{name}: expected ISO 8601 or epoch seconds, 1970-01-01 to 9999-12-31 UTC"
        ) from None


def _archive_page(filters: Filters, cursor: str | None, want: int) -> list[Any]:
    return archive_page(ensure_tables(get_engine()), filters, cursor, want)


@router.get("")
async def list_events(
    client: Redis,
    *,
    actor: Annotated[str | None, Query(max_length=256)] = None,
    type: Annotated[str | None, Query(max_length=256)] = None,
    since: str | None = None,
    until: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Audit events newest first, Redis tail and archive merged, each exactly once."""
    if cursor:
        try:
            parse_cursor(cursor)
        except ValueError:
            raise HTTPException(422, "cursor: not a cursor returned by this endpoint") from None
    filters = Filters(
        actor_of(actor) if actor else None,
        type or None,
        _time_ms("since", since),
        _time_ms("until", until),
    )
    # Order matters (see shared/audit/query.py): watermark and Redis first, SQL last.
    _, tail = await redis_tail(
        client, filters, cursor, limit + 1, get_settings().audit.query_scan_max
    )
    archived = await run_in_threadpool(_archive_page, filters, cursor, limit + 1)
    items, next_cursor = merge_page(tail, archived, limit)
    return {"items": items, "next_cursor": next_cursor}


def _archive_stats() -> dict[str, Any]:
    engine = ensure_tables(get_engine())
    counts = archive_counts(engine)
    if counts["archived"] <= get_settings().audit.live_verify_max_rows:
        # Small enough to check now: the answer is then never older than this request.
        record(engine, verify_chain(engine, batch=get_settings().audit.verify_batch))
    return {**counts, "verification": last_verification(engine)}


@router.get("/stats")
async def stats(client: Redis) -> dict[str, Any]:
    """Events in Redis and in the archive, and the chain's last verification."""
    in_redis = int(await client.xlen(keys.audit_stream()))
    archive = await run_in_threadpool(_archive_stats)
    verification = archive["verification"]
    verified_at = verification["verified_at"] if verification else None
    return {
        "in_redis": in_redis,
        "archived": archive["archived"],
        "chain_ok": bool(verification["verified_ok"]) if verification else True,
        "last_verified_at": (
            datetime.fromtimestamp(verified_at, UTC).isoformat() if verified_at else None
        ),
        "broken_id": verification["broken_id"] if verification else None,
        "broken_reason": verification["broken_reason"] if verification else None,
        "archive_watermark": archive["watermark"],
    }
