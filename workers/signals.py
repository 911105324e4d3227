"""Per-process resources after fork, and logging that never prints secrets."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import (
    after_setup_logger,
    beat_init,
    task_failure,
    worker_init,
    worker_process_init,
)

from shared import deadletter
from shared.db import ensure_schema, reset_engines
from shared.logconfig import RedactingFilter
from shared.redis_client import get_redis, reset_redis
from shared.settings import get_settings


@worker_init.connect
@beat_init.connect
def _schema(**_: Any) -> None:
    if get_settings().conn.db_auto_create:
        ensure_schema()
    reset_engines()  # the pool children open their own connections


@worker_process_init.connect
def _fresh_connections(**_: Any) -> None:
    # A forked child must not reuse the parent's sockets: replies would interleave.
    reset_redis()
    reset_engines(after_fork=True)


@after_setup_logger.connect
def _redact_logs(logger: logging.Logger, **_: Any) -> None:
    for handler in logger.handlers:
        handler.addFilter(RedactingFilter())


log = logging.getLogger(__name__)


@task_failure.connect
def _dead_letter(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    args: Any = None,
    kwargs: Any = None,
    **_: Any,
) -> None:
    # Fired once a task has failed for good (retries exhausted or none allowed).
    if sender is None or exception is None:
        return
    try:
        deadletter.record(
            get_redis(),
            task=str(sender.name),
            task_id=str(task_id),
            args=args,
            kwargs=kwargs,
            error=exception,
            retries=int(getattr(sender.request, "retries", 0) or 0),
        )
    except Exception as exc:  # the data plane may be what failed; never mask the task error
        log.warning("dead letter for %s not recorded: %s", task_id, type(exc).__name__)
