"""The one way chatbot code triggers work: by stable task name, with a bounded publish.

Importing this module never imports task code; a web process needs only the broker.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any, Literal

from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from shared.settings import get_settings
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
    """The broker did not accept the message within CELERY_PUBLISH_TIMEOUT."""


# Sends still running after their caller's deadline (a silent broker) each hold a thread until
# their own socket timeouts end them; this bounds how many can pile up.
MAX_IN_FLIGHT = 64
_slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)


def _reset_after_fork() -> None:
    global _slots  # noqa: PLW0603  (a child inherits the parent's count, not its threads)
    _slots = threading.BoundedSemaphore(MAX_IN_FLIGHT)


os.register_at_fork(after_in_child=_reset_after_fork)


def enqueue(name: TaskName, *args: Any, **kwargs: Any) -> str:
    """Send task `name` with JSON arguments; returns the task id.

    CELERY_PUBLISH_TIMEOUT bounds the whole send (producer, connect, result subscription,
    publish and its retries): kombu and the result backend each bound only their own step, and
    their retries add up. The send runs in a daemon thread the caller stops waiting for at the
    deadline; a send that finishes after it is logged (the message may then still be
    delivered, as after any timeout: task bodies are idempotent).

    Raises:
        EnqueueError: the broker did not accept the message in time (the web maps it to 503).
    """
    timeout_s = get_settings().workers.publish_timeout_s
    deadline = time.monotonic() + timeout_s
    slots = _slots
    if not slots.acquire(timeout=timeout_s):
        log.warning("enqueue of %s failed: %d sends already in flight", name, MAX_IN_FLIGHT)
        raise EnqueueError(f"broker unavailable: could not enqueue {name}")
    send = _Send(name, args, kwargs, slots)
    threading.Thread(target=send.run, name=f"enqueue-{name}", daemon=True).start()
    return send.wait(deadline - time.monotonic(), timeout_s)


class _Send:
    """One send_task call in its own thread, and what its caller learned of it."""

    def __init__(
        self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], slots: Any
    ) -> None:
        self.name, self.args, self.kwargs, self.slots = name, args, kwargs, slots
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.abandoned = False
        self.task_id: str | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.task_id = _send(self.name, self.args, self.kwargs)
        except BaseException as exc:  # raised in the caller's thread, never lost in this one
            self.error = exc
        finally:
            self.slots.release()
            with self.lock:
                self.done.set()
                late = self.abandoned
            if late and self.task_id is not None:
                log.warning("enqueue of %s was published after its deadline", self.name)

    def wait(self, remaining_s: float, timeout_s: float) -> str:
        self.done.wait(max(0.0, remaining_s))
        with self.lock:
            if not self.done.is_set():
                self.abandoned = True
        if self.abandoned:
            log.warning("enqueue of %s failed: no answer within %g s", self.name, timeout_s)
            raise EnqueueError(
                f"broker unavailable: could not enqueue {self.name} in {timeout_s:g} s"
            )
        if self.error is not None:
            raise self.error
        return str(self.task_id)


def _send(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
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
