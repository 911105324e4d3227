"""Conservation under SIGKILL: real `celery` worker processes die inside audit.trim.

Each trial appends events, starts a worker, enqueues `audit.trim` and kills the worker at one
step: deterministically (a hook `tests.e2e.audit_crash_app` installs in the worker: after the
INSERT and before the commit, after the commit and before the Redis trim, after the trim) or at a
random moment of a long run. After every crash, Redis plus the archive hold every event exactly
once; a final clean run archives everything, leaves the newest AUDIT_MAX_EVENTS in Redis, and
the chain verifies.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from shared import keys
from shared.audit import archive as audit_archive
from shared.audit.verify import verify_chain
from shared.db import get_engine
from shared.settings import get_settings, reset_settings
from tests.fixtures.processes import spawn_celery
from tests.shared.audit.helpers import append_many, assert_conserved
from workers.facade import enqueue

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
KEEP = 300


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    quiet = ["--without-mingle", "--without-gossip", "--without-heartbeat", "-l", "WARNING"]
    return spawn_celery(["worker", "-P", "solo", *quiet], env, log, app="tests.e2e.audit_crash_app")


def _wait_until(predicate: Any, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def _trial(
    r: Any, env: dict[str, str], log: Path, crash_point: str | None, rng: random.Random
) -> None:
    worker = _worker({**env, "AUDIT_CRASH_AT": crash_point or ""}, log)
    try:
        enqueue("audit.trim")
        if crash_point is None:
            # Kill at a random moment once the run holds its lock (it is then mid-archive).
            assert _wait_until(lambda: r.exists(keys.run_lock("audit.trim")), 60), log.read_text()
            time.sleep(rng.uniform(0.0, 0.15))
            worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=90)
        assert worker.returncode == -signal.SIGKILL, log.read_text()[-2000:]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(timeout=10)
    # The dead run's lock would expire after the task's time limit; expire it now.
    r.delete(keys.run_lock("audit.trim"))


def test_sigkill_at_any_step_loses_and_duplicates_nothing(
    r: Any, sql_url: str, settings_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = {"AUDIT_MAX_EVENTS": str(KEEP), "AUDIT_TRIM_BATCH": "100", "DATABASE_URL": sql_url}
    for name, value in settings.items():
        settings_env.setenv(name, value)
    reset_settings()
    env = {**os.environ, **settings}
    rng = random.Random(int(os.environ.get("AUDIT_CRASH_SEED", "6")))
    log = tmp_path / "worker.log"
    logged: list[str] = []
    trials = ["after_insert", "after_commit", "after_trim", None, None]
    for point in trials:
        logged += append_many(r, 1500 if point is None else 250, start=len(logged))
        _trial(r, env, log, point, rng)
        assert_conserved(r, logged)
        assert verify_chain(get_engine()).ok
    audit_archive.archive_and_trim(r, get_engine(), get_settings())
    assert assert_conserved(r, logged) == {"redis": KEEP, "archive": len(logged)}
    assert verify_chain(get_engine()).rows == len(logged)
