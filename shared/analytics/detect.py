"""The body of `analytics.detect_anomalies`: score the last closed minute, alert on consensus.

Reads the precomputed series (`analytics_series_minute`) and the same hour of the week in the
four previous weeks (hour buckets), runs `anomaly.evaluate` per watched metric, and raises an
alert through one Lua script (dedupe key SET NX + XADD to `keys.alerts_stream()`). Guards:
nothing is judged when the rollup's snapshot is stale (a stopped rollup is not a traffic drop)
or when the minute's volume is below ANOMALY_MIN_VOLUME. Writes the `analytics_anomalies`
snapshot that the dashboard and `/metrics` read.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from shared import keys, snapshots
from shared.analytics import anomaly, buckets
from shared.analytics.series import SUMMARY, bucket_values, decode, series_snapshot
from shared.lua import script
from shared.redis_client import RedisClient
from shared.settings import Settings

ANOMALIES = "analytics_anomalies"
WATCHED = ("messages", "error_rate", "latency_p95", "cache_hit_rate")
PER_MINUTE = {"messages"}  # counts: an hour's value is divided by 60 to compare with a minute
WEEKS = 4
RECENT_MINUTES = 60
ALERTS_MAXLEN = 10_000


def same_hour_of_week(client: RedisClient, now_s: float) -> list[dict[str, Any]]:
    """Metric values of this hour of the week in each of the previous WEEKS weeks."""
    hour = buckets.start_of("hour", now_s)
    with client.pipeline(transaction=False) as pipe:
        for week in range(1, WEEKS + 1):
            pipe.hgetall(keys.analytics_bucket("hour", hour - week * 7 * 86_400))
        raws = pipe.execute()
    return [bucket_values(decode(raw)) for raw in raws if raw]


def _raise_alert(client: RedisClient, settings: Settings, alert: dict[str, Any]) -> str | None:
    fields: list[Any] = []
    for k, v in alert.items():
        fields += [k, str(v)]
    found = script(client, "analytics_alert")(
        keys=[keys.alert_dedupe(alert["metric"], alert["direction"]), keys.alerts_stream()],
        args=[int(settings.analytics.anomaly_cooldown_s * 1000), ALERTS_MAXLEN, *fields],
    )
    return found.decode() if isinstance(found, bytes) else None


def detect(
    client: RedisClient, settings: Settings, *, now_s: float | None = None
) -> dict[str, Any]:
    """Evaluate, alert, write the snapshot; returns the snapshot's data."""
    now_s = time.time() if now_s is None else now_s
    s = settings.analytics
    result: dict[str, Any] = {"evaluated_at": now_s, "metrics": {}, "active": [], "skipped": None}
    summary = snapshots.read(client, SUMMARY)
    series = snapshots.read(client, series_snapshot("minute"))
    if summary is None or series is None or summary.age_s(now_s) > s.anomaly_stale_s:
        result["skipped"] = "stale: no recent rollup"
        return _store(client, settings, result, now_s)
    closed = buckets.start_of("minute", now_s) - 60
    starts: list[int] = series.data["starts"]
    if closed not in starts:
        result["skipped"] = "stale: the series does not reach the last closed minute"
        return _store(client, settings, result, now_s)
    at = starts.index(closed)
    result["minute_start"] = closed
    metrics: dict[str, list[Any]] = series.data["metrics"]
    volume_recent = metrics["messages"][max(0, at - RECENT_MINUTES) : at]
    volume = max(metrics["messages"][at] or 0, statistics.median(volume_recent or [0]))
    if volume < s.anomaly_min_volume:
        result["skipped"] = f"low volume: {volume:g} messages/min < {s.anomaly_min_volume}"
        return _store(client, settings, result, now_s)
    seasonal = same_hour_of_week(client, now_s)
    for name in WATCHED:
        value = metrics.get(name, [None] * len(starts))[at]
        if value is None:
            continue
        recent = [v for v in metrics[name][max(0, at - RECENT_MINUTES) : at] if v is not None]
        scale = 60.0 if name in PER_MINUTE else 1.0
        same_hour = [h[name] / scale for h in seasonal if h.get(name) is not None]
        verdict = anomaly.evaluate(
            float(value),
            recent,
            same_hour,
            threshold=s.anomaly_threshold,
            min_votes=s.anomaly_min_votes,
        )
        result["metrics"][name] = {
            "value": value,
            "scores": verdict.scores,
            "votes": verdict.votes,
            "anomalous": verdict.anomalous,
            "direction": verdict.direction,
        }
        if verdict.anomalous:
            alert = {
                "metric": name,
                "direction": verdict.direction,
                "value": value,
                "minute_start": closed,
                "votes": verdict.votes,
            }
            alert["alert_id"] = _raise_alert(client, settings, alert)
            result["active"].append(alert)
    return _store(client, settings, result, now_s)


def _store(
    client: RedisClient, settings: Settings, result: dict[str, Any], now_s: float
) -> dict[str, Any]:
    ttl_s = max(600.0, 10 * settings.schedule.anomaly_detect_interval_s)
    with client.pipeline(transaction=False) as pipe:
        snapshots.queue_write(pipe, ANOMALIES, result, ttl_s=ttl_s, now=now_s)
        pipe.execute()
    return result
