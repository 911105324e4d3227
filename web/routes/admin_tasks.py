"""GET /admin/tasks/{task_id}: a task's Celery state and result (or progress meta), admins only.

One read of the result backend. `state` is Celery's name (PENDING, STARTED, PROGRESS, SUCCESS,
FAILURE, RETRY, REVOKED); `result` is the return value, the progress meta while it runs, or
`{"error", "message"}` after a failure (never a traceback). An unknown id is PENDING, as in Celery.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Path
from fastapi.concurrency import run_in_threadpool

from web.auth import Admin
from workers.facade import task_state as read_task_state

router = APIRouter(prefix="/admin/tasks", tags=["tasks"])


@router.get("/{task_id}")
async def task_state(
    _: Admin, task_id: str = Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
) -> dict[str, Any]:
    """The state and result of task `task_id`."""
    try:
        return await run_in_threadpool(read_task_state, task_id)
    except OSError:
        raise HTTPException(503, "result backend unavailable") from None
