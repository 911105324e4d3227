"""files.process (on demand, heavy queue) and files.cleanup (beat): thin wrappers over shared.files.

files.process acknowledges late and is rejected back to the queue when its worker dies, so an
upload is never lost; it is idempotent on the content hash and counts its deliveries, so a
file that kills its worker is failed as poison after FILES_MAX_ATTEMPTS instead of looping.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from shared import task_names as names
from shared.files.cleanup import cleanup as cleanup_files
from shared.files.process import process_file, time_limits
from shared.redis_client import get_redis
from shared.settings import get_settings
from tasks.periodic import periodic_task

# Read once at import (the worker has validated the settings by then).
HARD_LIMIT_S, SOFT_LIMIT_S = time_limits(get_settings())


def _int(value: Any) -> int:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return 0


@shared_task(
    name=names.FILES_PROCESS,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=HARD_LIMIT_S,
    soft_time_limit=SOFT_LIMIT_S,
    # Outages of Redis or SQL are transient: retry with backoff; bad input never raises.
    autoretry_for=(RedisError, SQLAlchemyError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=3,
)
def process(file_id: str, gen: int = 0, filename: str = "") -> dict[str, Any]:
    """Extract, chunk and store the uploaded file `file_id` (a SHA-256 hex id)."""
    return process_file(
        get_redis(),
        str(file_id),
        get_settings(),
        gen=_int(gen),
        filename=str(filename or "")[:255],
        timeout_errors=(SoftTimeLimitExceeded,),
    )


@periodic_task(names.FILES_CLEANUP, time_limit_s=600)
def cleanup() -> dict[str, int]:
    """Delete expired failed uploads and orphaned files; returns the counts."""
    return cleanup_files(get_redis(), get_settings())
