"""analytics.rollup and analytics.detect_anomalies: thin beat wrappers over `shared.analytics`."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from shared import task_names as names
from shared.analytics import detect, global_view, persist, rollup, series
from shared.db import get_engine
from shared.redis_client import get_redis
from shared.settings import get_settings
from tasks.periodic import periodic_task

ROLLUP_TIME_LIMIT_S = 120


@periodic_task(names.ANALYTICS_ROLLUP, time_limit_s=ROLLUP_TIME_LIMIT_S)
def rollup_task() -> dict[str, Any]:
    """Consume both streams, persist closed buckets to SQL, write the dashboard snapshots; with
    REGION_BROKERS, also this region's open counters to SQL and the global snapshot from them."""
    settings = get_settings()
    client = get_redis()
    started = time.monotonic()
    # Half the time limit for reading: persisting and the snapshots need the rest.
    report = rollup.run(client, settings.analytics, budget_s=ROLLUP_TIME_LIMIT_S / 2)
    persisted = persist.persist_closed(client, settings.analytics)
    out = {**dataclasses.asdict(report), "persisted_buckets": persisted}
    out["seconds"] = round(time.monotonic() - started, 3)
    series.write_snapshots(client, settings, extra={"last_run": out})
    if settings.regions.multi:
        view = global_view.refresh(
            get_engine(),
            client,
            region=settings.regions.region,
            names=settings.regions.names,
            ttl_s=max(600.0, 10 * settings.schedule.analytics_rollup_interval_s),
        )
        out["global_messages_total"] = view["messages_total"]
    return out


@periodic_task(names.ANALYTICS_DETECT_ANOMALIES, time_limit_s=60)
def detect_anomalies() -> dict[str, Any]:
    """Score the last closed minute; alerts go to the alerts stream and the snapshot."""
    result = detect.detect(get_redis(), get_settings())
    return {"skipped": result["skipped"], "alerts": len(result["active"])}
