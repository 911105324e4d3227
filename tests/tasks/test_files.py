from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shared.files import documents, store
from shared.settings import Settings, get_settings
from tests.shared.files.helpers import files_root, pdf_bytes, store_file
from workers.facade import enqueue

__all__ = ["files_root"]


def _app() -> Any:
    from workers import app  # noqa: PLC0415

    app.loader.import_default_modules()
    return app


def test_process_is_a_late_ack_heavy_task_limited_below_the_visibility_timeout() -> None:
    app = _app()
    task = app.tasks["files.process"]
    settings = get_settings()
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    assert 0 < task.soft_time_limit < task.time_limit < settings.workers.visibility_timeout_s
    assert app.amqp.router.route({}, "files.process", (), {})["queue"].name == "heavy"
    assert app.tasks["files.cleanup"].acks_late is False  # periodic: redone by the next tick


def test_time_limit_follows_a_short_visibility_timeout() -> None:
    from shared.files.process import time_limits  # noqa: PLC0415

    settings = Settings.from_env({"CELERY_VISIBILITY_TIMEOUT": "120", "FILES_TIME_LIMIT": "600"})
    hard, soft = time_limits(settings)
    assert soft < hard < 120


def test_cleanup_is_scheduled_from_settings() -> None:
    from schedules import build_schedule  # noqa: PLC0415

    on = build_schedule(Settings.from_env({"FILES_CLEANUP_INTERVAL": "900"}))
    assert on["files.cleanup"] == {
        "task": "files.cleanup",
        "schedule": 900.0,
        "options": {"expires": 900.0},
    }
    off = build_schedule(Settings.from_env({"FILES_CLEANUP_ENABLED": "false"}))
    assert "files.cleanup" not in off


@pytest.mark.usefixtures("sql_url")
def test_process_and_cleanup_run_on_a_real_worker(worker, files_root: Path, r) -> None:  # type: ignore[no-untyped-def]
    from celery.result import AsyncResult  # noqa: PLC0415

    app = _app()
    file_id = store_file(files_root, pdf_bytes(["Worker page one.", "Worker page two."]))
    task_id = enqueue("files.process", file_id=file_id, gen=0, filename="w.pdf")
    result = AsyncResult(task_id, app=app).get(timeout=30)
    assert result["status"] == "done"
    doc = documents.get(file_id)
    assert doc is not None
    assert (doc.status, doc.media_type, doc.filename) == ("done", "pdf", "w.pdf")
    # JSON arguments from a sloppy caller are coerced, not trusted.
    odd = AsyncResult(enqueue("files.process", file_id="../etc", gen="x"), app=app).get(timeout=30)
    assert odd == {"status": "failed", "error": "invalid file id"}
    swept = AsyncResult(enqueue_cleanup(app), app=app).get(timeout=30)
    assert swept == {"failed": 0, "orphans": 0, "temp": 0}
    assert store.path_for(files_root, file_id).exists()


def enqueue_cleanup(app: Any) -> str:
    # files.cleanup is a beat task, not in the facade's on-demand names; send it by name.
    return str(app.send_task("files.cleanup").id)


@pytest.mark.usefixtures("sql_url")
def test_soft_time_limit_in_the_task_body_ends_failed(files_root: Path, r, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from celery.exceptions import SoftTimeLimitExceeded  # noqa: PLC0415

    def too_slow(*_a: object, **_k: object) -> str:
        raise SoftTimeLimitExceeded

    app = _app()
    monkeypatch.setattr("shared.files.process.extract", too_slow)
    file_id = store_file(files_root, b"plain words " * 50)
    result = app.tasks["files.process"].run(file_id=file_id, gen=0, filename="slow.txt")
    assert result["status"] == "failed"
    assert "time limit" in result["error"]
    doc = documents.get(file_id)
    assert doc is not None
    assert (doc.status, doc.chunk_count) == ("failed", 0)
