"""The one way chatbot code triggers work: by stable task name, with a bounded publish.

Importing this module never imports task code; a web process needs only the broker.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from workers.app import app

log = logging.getLogger(__name__)

TaskName = Literal[
    "health.probe",
    "cache.invalidate",
    "cache.warmup",
    "cache.refresh",
    "files.process",
    "analytics.rollup",
    "analytics.detect_anomalies",
    "audit.trim",
    "audit.verify",
    "audit.purge",
    "sessions.sweep",
]


class EnqueueError(RuntimeError):
    """The broker did not accept the message within the publish timeout."""


def enqueue(name: TaskName, *args: Any, **kwargs: Any) -> str:
    """Send task `name` with JSON arguments; returns the task id.

    Raises:
        EnqueueError: the broker is unreachable (after a bounded retry; the web maps it to 503).
    """
    try:
        result = app.send_task(name, args=args, kwargs=kwargs)
    except (OperationalError, OSError, RedisError) as exc:
        log.warning("enqueue of %s failed: %s", name, type(exc).__name__)
        raise EnqueueError(f"broker unavailable: could not enqueue {name}") from exc
    except RuntimeError as exc:
        # Celery's Redis result consumer subscribes before the publish and gives up with a bare
        # RuntimeError ("retry limit exceeded ... result store"); nothing was published.
        if "result store" not in str(exc):
            raise
        log.warning("enqueue of %s failed: result store unreachable", name)
        raise EnqueueError(f"broker unavailable: could not enqueue {name}") from exc
    return str(result.id)
