"""`celery -A tests.e2e.audit_crash_app worker -P solo`: our app, SIGKILLed at one archive step.

The step comes from AUDIT_CRASH_AT in the worker's environment ("after_insert", "after_commit"
or "after_trim"; empty: no hook). The solo pool runs the task in this very process, so the hook
installed at import is the one the task reaches.
"""

from __future__ import annotations

import os
import signal

from shared.audit import archive
from workers import app

CRASH_AT = os.environ.get("AUDIT_CRASH_AT", "")


def _die_at(step: str) -> None:
    # As SIGKILL would: no cleanup, no rollback, no lock release.
    if step == CRASH_AT:
        os.kill(os.getpid(), signal.SIGKILL)


if CRASH_AT:
    archive.STEP_HOOKS.append(_die_at)

__all__ = ["app"]
