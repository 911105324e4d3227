"""The one way chatbot code reaches the workers: trigger a task by stable name (a bounded
publish) and read a task's state back.

Importing this module never imports task code; a web process needs only the broker and the
result backend. The names live in `shared.task_names`.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from celery.result import AsyncResult
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from shared.settings import get_settings
from shared.task_names import TaskName
from workers.app import app

log = logging.getLogger(__name__)


class EnqueueError(RuntimeError):
    """The broker did not accept the message within CELERY_PUBLISH_TIMEOUT."""


# Sends run on a few reused threads: Celery keeps a result backend (and its Redis connection)
# per thread, so a thread per call would open a connection per enqueue. A send still running
# after its caller's deadline (a silent broker) holds its thread until its own socket
# timeouts end it; calls beyond MAX_SENDERS wait in the queue and are cancelled at their deadline.
MAX_SENDERS = 16
_lock = threading.Lock()
_senders: tuple[int, ThreadPoolExecutor] | None = None


def _executor() -> ThreadPoolExecutor:
    global _senders  # noqa: PLW0603  (one per process: a forked child has none of its threads)
    current = _senders
    if current is None or current[0] != os.getpid():
        with _lock:
            if _senders is None or _senders[0] != os.getpid():
                pool = ThreadPoolExecutor(MAX_SENDERS, thread_name_prefix="enqueue")
                _senders = (os.getpid(), pool)
            current = _senders
    return current[1]


def enqueue(name: TaskName, *args: Any, **kwargs: Any) -> str:
    """Send task `name` with JSON arguments; returns the task id.

    CELERY_PUBLISH_TIMEOUT bounds the whole send (producer, connect, result subscription,
    publish and its retries): kombu and the result backend each bound only their own step, and
    their retries add up. A send that was already under way at the deadline may still publish
    (logged), as after any timeout; task bodies are idempotent.

    Raises:
        EnqueueError: the broker did not accept the message in time (the web maps it to 503).
    """
    return _wait(name, _submit(name, None, args, kwargs))


def _submit(
    name: str, broker_url: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Future[str]:
    """Start one send on the shared sender threads (`_wait` bounds it): callers that fan out
    submit every send first, so N brokers cost one CELERY_PUBLISH_TIMEOUT, not N."""
    return _executor().submit(_send, name, broker_url, args, kwargs)


def _wait(name: str, future: Future[str], *, deadline: float | None = None) -> str:
    """The task id of a submitted send, by `deadline` (time.monotonic()) or the publish bound.

    Raises:
        EnqueueError: not accepted in time, or refused.
    """
    timeout_s = get_settings().workers.publish_timeout_s
    if deadline is not None:
        timeout_s = max(0.0, deadline - time.monotonic())
    try:
        return future.result(timeout=timeout_s)
    except FutureTimeout:
        if not future.cancel():
            future.add_done_callback(functools.partial(_late, name))
        log.warning("enqueue of %s failed: no answer within %g s", name, timeout_s)
        raise EnqueueError(
            f"broker unavailable: could not enqueue {name} in {timeout_s:g} s"
        ) from None


def _late(name: str, future: Future[str]) -> None:
    if future.exception() is None:
        log.warning("enqueue of %s was published after its deadline", name)


def _send(name: str, broker_url: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    try:
        if broker_url is None:
            result = app.send_task(name, args=args, kwargs=kwargs)
        else:
            # A connection per send: fan-outs are rare admin calls and outbox retries, and a
            # kombu connection must not be shared between the sender threads.
            with app.connection_for_write(broker_url) as conn:
                result = app.send_task(name, args=args, kwargs=kwargs, connection=conn)
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
    _forget(result)
    return str(result.id)


def _forget(result: AsyncResult) -> None:
    """Stop the result subscription `send_task` opened: callers keep only the id and read the
    state with `task_state`. Left to `AsyncResult.__del__`, the unsubscribe runs wherever the
    object happens to be collected and, with the result store down, raises there unseen."""
    try:
        result.backend.remove_pending_result(result)
    except (OSError, RedisError, RuntimeError) as exc:
        log.debug("result subscription of %s not cancelled: %s", result.id, type(exc).__name__)
    result.backend = None  # __del__ has nothing left to do


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


def enqueue_many(brokers: dict[str, str], name: TaskName, **kwargs: Any) -> dict[str, str | None]:
    """`enqueue` on other regions' brokers (same routing), all at once and all within one
    CELERY_PUBLISH_TIMEOUT: the task id per region, None where the broker did not accept."""
    deadline = time.monotonic() + get_settings().workers.publish_timeout_s
    futures = {region: _submit(name, url, (), kwargs) for region, url in brokers.items()}
    accepted: dict[str, str | None] = {}
    for region, future in futures.items():
        try:
            accepted[region] = _wait(name, future, deadline=deadline)
        except EnqueueError:
            accepted[region] = None
    return accepted
