from __future__ import annotations

from typing import Any

from workers.facade import enqueue


def test_enqueue_by_name_runs_on_a_real_worker(worker: Any, r) -> None:  # type: ignore[no-untyped-def]
    from celery.result import AsyncResult  # noqa: PLC0415

    from workers import app  # noqa: PLC0415

    task_id = enqueue("health.probe")
    result = AsyncResult(task_id, app=app).get(timeout=30)
    assert result["status"] in ("pass", "warn", "fail")
    assert r.exists("t:snap:health")
