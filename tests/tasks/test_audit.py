"""audit.* tasks run by name on a real in-process worker; the schedule names them."""

from __future__ import annotations

from typing import Any

from schedules import build_schedule
from shared.settings import get_settings
from tests.shared.audit.helpers import append_many, assert_conserved
from workers.facade import enqueue


def test_trim_verify_purge_by_name(r: Any, sql_url: str, worker: Any) -> None:
    from celery.result import AsyncResult  # noqa: PLC0415

    from workers import app  # noqa: PLC0415

    logged = append_many(r, 300)
    trimmed = AsyncResult(enqueue("audit.trim"), app=app).get(timeout=60)
    assert trimmed["archived"] == 300
    assert assert_conserved(r, logged) == {"redis": 300, "archive": 300}
    verified = AsyncResult(enqueue("audit.verify"), app=app).get(timeout=60)
    assert verified["ok"]
    assert verified["rows"] == 300
    purged = AsyncResult(enqueue("audit.purge"), app=app).get(timeout=60)
    assert purged["deleted"] == 0


def test_schedule_has_the_audit_entries() -> None:
    schedule = build_schedule(get_settings())
    for name in ("audit.trim", "audit.verify", "audit.purge"):
        assert schedule[name]["task"] == name
        assert schedule[name]["options"]["expires"] == schedule[name]["schedule"]


def test_health_probe_runs_the_audit_checks() -> None:
    from shared.audit import health as audit_health  # noqa: PLC0415
    from tasks.health import DOMAIN_CHECKS  # noqa: PLC0415

    assert audit_health.check in DOMAIN_CHECKS
