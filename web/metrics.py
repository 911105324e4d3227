"""Prometheus exposition: process counters plus gauges read from the precomputed snapshots.

Counters that the request path increments live in `REGISTRY` (in process, no Redis round trip).
Under `python -m web.serve` there are WEB_CONCURRENCY processes: the launcher sets
PROMETHEUS_MULTIPROC_DIR before any of them imports prometheus_client, so every counter,
whichever registry it names, is kept in a per-process file there, and `counters()` sums the
files of all processes, those of workers that have exited included (counters never go down).
Snapshot gauges are rebuilt on each scrape from one MGET of the snapshots named in
`SNAPSHOT_METRICS`; each domain adds its converter there. No per-user labels, ever.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from shared.analytics.detect import ANOMALIES
from shared.analytics.series import SUMMARY as ANALYTICS
from shared.health import SNAPSHOT_NAME as HEALTH
from shared.snapshots import Snapshot
from web.gauges import anomaly_metrics, summary_metrics

REGISTRY = CollectorRegistry(auto_describe=True)
_STATUS = {"pass": 0, "warn": 1, "fail": 2}


def counters() -> bytes:
    """The exposition of the request-path counters: of every web process when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return generate_latest(merged)
    return generate_latest(REGISTRY)


def health_metrics(snap: Snapshot) -> Iterable[Metric]:
    value = GaugeMetricFamily(
        "chatbot_health_observed_value", "observedValue of each health check", labels=["check"]
    )
    status = GaugeMetricFamily(
        "chatbot_health_check_status", "0 pass, 1 warn, 2 fail", labels=["check"]
    )
    for name, observations in snap.data.get("checks", {}).items():
        for obs in observations:
            status.add_metric([name], _STATUS.get(obs.get("status"), 2))
            if isinstance(obs.get("observedValue"), int | float):
                value.add_metric([name], float(obs["observedValue"]))
    overall = GaugeMetricFamily("chatbot_health_status", "0 pass, 1 warn, 2 fail")
    overall.add_metric([], _STATUS.get(snap.data.get("status", "fail"), 2))
    return [value, status, overall]


def sessions_metrics(snap: Snapshot) -> Iterable[Metric]:
    """The active-sessions gauge written by `sessions.sweep`."""
    active = GaugeMetricFamily("chatbot_active_sessions", "Live sessions at the last sweep")
    active.add_metric([], float(snap.data.get("active", 0)))
    users = GaugeMetricFamily("chatbot_session_users", "Users with live sessions at the last sweep")
    users.add_metric([], float(snap.data.get("users", 0)))
    return [active, users]


SNAPSHOT_METRICS: dict[str, Callable[[Snapshot], Iterable[Metric]]] = {
    HEALTH: health_metrics,
    ANALYTICS: summary_metrics,
    ANOMALIES: anomaly_metrics,
    "sessions": sessions_metrics,
}


class SnapshotCollector:
    """A one-scrape collector over already-fetched snapshots."""

    def __init__(self, found: dict[str, Snapshot | None]) -> None:
        self.found = found

    def collect(self) -> Iterable[Metric]:
        age = GaugeMetricFamily(
            "chatbot_snapshot_age_seconds", "Age of each precomputed snapshot", labels=["name"]
        )
        now = time.time()
        for name, snap in self.found.items():
            if snap is None:
                continue
            age.add_metric([name], snap.age_s(now))
            yield from SNAPSHOT_METRICS[name](snap)
        yield age
