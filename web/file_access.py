"""Who may upload how much, and who may read an upload: the web side of `shared/files/quota.py`
and `shared/files/owners.py`.

`admit_upload` runs the caller's upload policies as ONE guard round trip (the script /chat uses,
bounded by GUARD_REDIS_TIMEOUT) before the body is read: 429 with Retry-After when refused,
503 when Redis fails and a policy is fail-closed, admitted when every failing policy is open.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from redis.exceptions import RedisError

from shared.files import owners, quota
from shared.guards import gcra
from shared.guards.gcra import GuardCall
from shared.redis_client import AsyncRedisClient
from shared.settings import get_settings
from web.admission import INCIDENT, bounded, guard_identity, shed
from web.auth import Principal
from web.loop_lag import Overloaded


async def admit_upload(request: Request, redis: AsyncRedisClient, who: Principal) -> None:
    """Charge one upload against the caller's count and bytes policies; raise when refused."""
    settings = get_settings()
    size = quota.declared_bytes(request.headers.get("content-length"), settings)
    charges = quota.upload_charges(settings, guard_identity(who), who.subject, size)
    if not charges:
        return
    try:
        decision = await bounded(gcra.acheck(redis, GuardCall(charges)))
    except Overloaded:
        # A busy process is not a store outage: shed, never admit unchecked.
        raise shed(charges, False) from None
    except (RedisError, TimeoutError) as exc:
        INCIDENT.failed(exc)
        if any(c.policy.mode == "enforce" and c.policy.fail_mode == "closed" for c in charges):
            raise HTTPException(
                503, "rate limiter unavailable; retry shortly", headers={"Retry-After": "1"}
            ) from None
        return
    INCIDENT.ok()
    if decision.allowed:
        return
    worst = next(r.policy for r in decision.results if r.blocks)
    retry_s = decision.retry_after_s
    if retry_s is None:  # an override set the limit below this upload's size
        raise HTTPException(
            429, f"upload exceeds the {worst.name!r} limit of {worst.limit} {worst.unit} per "
            f"{worst.window_s:g} s; it can never be admitted",
        )  # fmt: skip
    retry_s = max(1, retry_s)
    raise HTTPException(
        429,
        f"upload limit exceeded: {worst.name!r} allows {worst.limit} {worst.unit} per "
        f"{worst.window_s:g} s; retry in {retry_s} s",
        headers={"Retry-After": str(retry_s)},
    )


async def record_uploader(file_id: str, who: Principal, filename: str) -> None:
    await run_in_threadpool(owners.record, file_id, guard_identity(who), filename)


async def reader_fields(file_id: str, who: Principal) -> dict[str, Any] | None:
    """None when `who` may not read `file_id`; else the fields to show over the stored view.

    Admins read every upload as stored. An uploader reads what it uploaded, under its own file
    name (the stored one is the first uploader's, not necessarily theirs).
    """
    if who.is_admin:
        return {}
    name = await run_in_threadpool(owners.uploaded_as, file_id, guard_identity(who))
    return None if name is None else {"filename": name or None}
