"""health.probe: measure every dependency and write the `health` snapshot."""

from __future__ import annotations

from typing import Any

from celery import current_app

from shared import health
from shared import task_names as names
from shared.analytics import health as analytics_health
from shared.audit import health as audit_health
from shared.cache import health as cache_health
from shared.guards import health as guards_health
from shared.provider import health as provider_health
from shared.redis_client import get_redis
from shared.settings import get_settings
from tasks.periodic import periodic_task
from workers import broker

# Each feature domain's `shared/<domain>/health.py:check`, in the snapshot's check order.
DOMAIN_CHECKS: tuple[health.DomainCheck, ...] = (
    analytics_health.check,
    audit_health.check,
    cache_health.check,
    guards_health.check,
    provider_health.check,
)


def _ping(timeout_s: float) -> list[str]:
    replies = current_app.control.ping(timeout=timeout_s) or []
    return [name for reply in replies for name in reply]


@periodic_task(names.HEALTH_PROBE, time_limit_s=30)
def probe() -> dict[str, Any]:
    """Probe and store the snapshot; returns the overall status."""
    settings = get_settings()
    client = get_redis()
    queues = [q.name for q in current_app.conf.task_queues]
    with current_app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1)
        report = health.probe(
            client,
            settings,
            depths=lambda: broker.queue_depths(conn, queues),
            unacked=lambda: broker.unacked_count(conn),
            ping=lambda: _ping(settings.health.ping_timeout_s),
            domain_checks=DOMAIN_CHECKS,
        )
    health.write_snapshot(client, report, settings)
    return {"status": report["status"]}
