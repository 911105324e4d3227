"""Per-process resources after fork, and logging that never prints secrets."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import after_setup_logger, beat_init, worker_init, worker_process_init

from shared.db import ensure_schema, reset_engines
from shared.logging import RedactingFilter
from shared.redis_client import reset_redis
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
    reset_engines()


@after_setup_logger.connect
def _redact_logs(logger: logging.Logger, **_: Any) -> None:
    for handler in logger.handlers:
        handler.addFilter(RedactingFilter())
