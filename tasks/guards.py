"""The guards domain's task, sessions.sweep: drop expired session members everywhere and write
the active-sessions gauge.

Acquire, heartbeat and release already drop expired members of the set they touch, so nothing
depends on this job having run; it reclaims memory of idle users and measures.
"""

from __future__ import annotations

from typing import Any

from shared import task_names as names
from shared.guards import sessions
from shared.redis_client import get_redis
from shared.settings import get_settings
from tasks.periodic import periodic_task


@periodic_task(names.SESSIONS_SWEEP, time_limit_s=60)
def sweep() -> dict[str, Any]:
    """One sweep; returns the counts it wrote to the `sessions` snapshot."""
    client = get_redis()
    report = sessions.sweep(client)
    ttl_s = get_settings().schedule.sessions_sweep_interval_s * 10
    sessions.write_snapshot(client, report, ttl_s)
    return {"users": report.users, "active": report.active, "removed": report.removed}
