"""The one way chatbot code reaches the workers: trigger a task by stable name (a bounded
publish) and read a task's state back.

Importing this module never imports task code; a web process needs only the broker and the
result backend. The names live in `shared.task_names`.
"""

from __future__ import annotations

import logging
from typing import Any

from celery.result import AsyncResult
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from shared.task_names import TaskName
from workers.app import app

log = logging.getLogger(__name__)


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


def task_state(task_id: str) -> dict[str, Any]:
    """One read of the result backend: `{"task_id", "state", "result"}`.

    `state` is Celery's name (PENDING, STARTED, PROGRESS, SUCCESS, FAILURE, RETRY, REVOKED); an
    unknown id is PENDING. `result` is the return value, the progress meta while it runs, or
    `{"error", "message"}` after a failure (never a traceback).

    Raises:
        OSError: the result backend is unreachable.
    """
    found = AsyncResult(task_id, app=app)
    state = str(found.state)
    result: Any = found.result
    if isinstance(result, BaseException):
        result = {"error": type(result).__name__, "message": str(result)}
    return {"task_id": task_id, "state": state, "result": result}
