"""Who may upload how much, and who may read an upload: the web side of `shared/files/quota.py`
and `shared/files/owners.py`.

`admit_upload` runs the caller's upload policies through the guards /chat uses
(`web.admission.check_charges`: one round trip before the body is read, the same shedding, fail
modes, counters and audited 429 refusals).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from shared.files import owners, quota
from shared.redis_client import AsyncRedisClient
from shared.settings import get_settings
from web.admission import Guarded, check_charges, guard_identity
from web.auth import Principal


async def admit_upload(request: Request, redis: AsyncRedisClient, who: Principal) -> Guarded:
    """Charge one upload against the caller's count and bytes policies; raise when refused."""
    settings = get_settings()
    identity = guard_identity(who)
    size = quota.declared_bytes(request.headers.get("content-length"), settings)
    return await check_charges(
        redis, identity, quota.upload_charges(settings, identity, who.subject, size)
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
