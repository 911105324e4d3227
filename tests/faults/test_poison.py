"""A poison message: a task that always fails gets bounded retries, then one dead-letter record,
while the queue keeps flowing for the tasks behind it (real in-process worker)."""

from __future__ import annotations

from typing import Any

import pytest
from celery import shared_task
from celery.result import AsyncResult

from shared import deadletter
from shared.redis_client import get_redis
from tests.fixtures.processes import wait_for

pytestmark = pytest.mark.faults
MAX_RETRIES = 2


@shared_task(name="tests.poison", bind=True, max_retries=MAX_RETRIES, acks_late=True)
def poison(self: Any, marker: str) -> None:
    get_redis().incr(f"t:poison:attempts:{marker}")
    try:
        raise ValueError(f"cannot digest {marker}")
    except ValueError as exc:
        raise self.retry(exc=exc, countdown=0) from exc


@shared_task(name="tests.echo")
def echo(value: int) -> int:
    return value


def test_poison_is_retried_a_bounded_number_of_times_then_dead_lettered(
    worker: Any, r: Any
) -> None:
    from workers import app  # noqa: PLC0415

    poisoned = app.send_task("tests.poison", args=["pill"])
    healthy = [app.send_task("tests.echo", args=[i]) for i in range(20)]
    assert [h.get(timeout=30) for h in healthy] == list(range(20))  # the queue keeps flowing
    with pytest.raises(ValueError, match="cannot digest pill"):
        AsyncResult(poisoned.id, app=app).get(timeout=30)
    assert int(r.get("t:poison:attempts:pill")) == MAX_RETRIES + 1
    # Celery stores the FAILURE result, then sends task_failure: wait for the record.
    letters = wait_for(
        lambda: [d for d in deadletter.recent(r) if d["task_id"] == poisoned.id],
        timeout_s=10,
        what="the dead letter",
    )
    assert len(letters) == 1, letters
    assert letters[0]["task"] == "tests.poison"
    assert letters[0]["error_type"] == "ValueError"
    assert letters[0]["retries"] == str(MAX_RETRIES)
    assert letters[0]["args"] == '["pill"]'
    # A later healthy task is unaffected, and nothing else was dead-lettered.
    assert app.send_task("tests.echo", args=[99]).get(timeout=30) == 99
    assert len(deadletter.recent(r)) == 1


def test_dead_letter_record_is_capped_and_redacted(r: Any) -> None:
    error = RuntimeError("cannot reach redis://app:hunter2@db:6379/0")
    entry = deadletter.record(
        r, task="x.y", task_id="1", args=["a" * 5000], kwargs={}, error=error, retries=0
    )
    (letter,) = deadletter.recent(r)
    assert letter["id"] == entry
    assert "hunter2" not in letter["error"]
    assert len(letter["args"]) <= deadletter.MAX_FIELD_CHARS + 1
