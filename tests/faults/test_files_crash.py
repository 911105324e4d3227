"""SIGKILL a worker in the middle of processing a file: the file ends processed exactly once.

`files.process` acknowledges late; RabbitMQ requeues an unacknowledged message as soon as the
dead worker's connection closes, so a second worker picks it up at once (on a Redis broker the
same happens after the visibility timeout, too long for a test). Afterwards the document's
chunks equal, one for one, those of a clean run of the same text: nothing lost, nothing doubled.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.cluster.test_rabbitmq import AMQP_URL, _reachable
from tests.fixtures.processes import child_env, spawn_celery, stop_process, wait_for
from tests.shared.files.helpers import files_root, pdf_bytes, store_file

pytestmark = pytest.mark.faults
__all__ = ["files_root"]
PAGES = 1500  # about 3 s of extraction on this machine: time for the kill to land mid-run


def _pages(salt: str) -> list[str]:
    return [f"page {i} {salt} " + " ".join(f"word{j}" for j in range(120)) for i in range(PAGES)]


def _status(r: Any, file_id: str) -> dict[str, str]:
    from shared import keys  # noqa: PLC0415

    return {k.decode(): v.decode() for k, v in r.hgetall(keys.file_status(file_id)).items()}


@pytest.fixture
def amqp_env(
    settings_env: pytest.MonkeyPatch,
    reconfigure_app: Callable[[], dict[str, Any]],
    files_root: Path,
) -> dict[str, str]:
    from shared.settings import reset_settings  # noqa: PLC0415
    from workers import app  # noqa: PLC0415

    if not _reachable(AMQP_URL):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires RabbitMQ at {AMQP_URL} (`.ci/run` starts it)")
        pytest.skip(f"RabbitMQ not reachable at {AMQP_URL} (a Redis broker redelivers too late)")
    settings_env.setenv("BROKER_URL", AMQP_URL)
    reset_settings()
    reconfigure_app()
    app.control.purge()
    return child_env(BROKER_URL=AMQP_URL, FILES_UPLOAD_DIR=str(files_root))


@pytest.mark.parametrize("sql_url", ["sqlite"], indirect=True)
def test_sigkill_mid_processing_then_redelivery_stores_each_chunk_once(
    sql_url: str, amqp_env: dict[str, str], files_root: Path, r: Any, tmp_path: Path
) -> None:
    from shared.db import session_scope  # noqa: PLC0415
    from shared.files import documents  # noqa: PLC0415
    from shared.files.process import process_file  # noqa: PLC0415
    from shared.models.files import Chunk  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415
    from workers.facade import enqueue  # noqa: PLC0415

    # The reference: the same text processed cleanly in this process (another file id).
    reference_id = store_file(files_root, pdf_bytes(_pages("same")) + b"\n")
    assert process_file(r, reference_id, get_settings())["status"] == "done"
    expected = documents.chunk_texts(reference_id)
    assert len(expected) > 10

    file_id = store_file(files_root, pdf_bytes(_pages("same")))
    assert file_id != reference_id
    killed_mid_run = False
    for attempt in range(3):  # the kill can land after the save; then the run was not "mid"
        victim = spawn_celery(
            ["worker", "--pool", "threads", "-c", "1", "-n", f"victim{attempt}@%h", "-Q", "heavy"],
            amqp_env,
            tmp_path / f"victim{attempt}.log",
        )
        try:
            if attempt == 0:
                enqueue("files.process", file_id=file_id, gen=0, filename="big.pdf")
            seen = wait_for(
                lambda: (
                    _status(r, file_id).get("status") in ("processing", "done")
                    and _status(r, file_id)
                ),
                timeout_s=60,
                what="the victim starts processing",
            )
            if seen["status"] == "processing":
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait(timeout=10)
                killed_mid_run = documents.get(file_id) is None
        finally:
            stop_process(victim)
        if killed_mid_run or _status(r, file_id).get("status") == "done":
            break
    assert killed_mid_run, "every kill landed after the document was saved"

    rescuer = spawn_celery(
        ["worker", "--pool", "threads", "-c", "1", "-n", "rescuer@%h", "-Q", "heavy"],
        amqp_env,
        tmp_path / "rescuer.log",
    )
    try:
        final = wait_for(
            lambda: _status(r, file_id).get("status") in ("done", "failed") and _status(r, file_id),
            timeout_s=90,
            what="the redelivered message is processed",
        )
    finally:
        stop_process(rescuer)
    assert final["status"] == "done", final
    assert int(final["runs"]) >= 2  # the same message was delivered again, not re-sent
    doc = documents.get(file_id)
    assert doc is not None
    assert doc.status == "done"
    assert documents.chunk_texts(file_id) == expected
    with session_scope() as session:
        rows = session.scalar(select(func.count()).where(Chunk.document_id == file_id))
        seqs = list(session.scalars(select(Chunk.seq).where(Chunk.document_id == file_id)))
    assert rows == doc.chunk_count == len(expected)
    assert sorted(seqs) == list(range(len(expected)))
