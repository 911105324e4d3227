"""From bucket hashes to numbers: per-bucket metric values, the summary and the time series.

The rollup calls `write_snapshots` after consuming; the web only reads the snapshots
(`analytics` and `analytics_series_<granularity>`), never the buckets.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

from shared import keys, snapshots
from shared.analytics import buckets, histogram
from shared.models_catalog import model_label
from shared.redis_client import RedisClient
from shared.settings import Settings

SUMMARY = "analytics"
BASE_METRICS = (
    "messages",
    "errors",
    "error_rate",
    "cache_hit_rate",
    "tokens_prompt",
    "tokens_completion",
    "tokens",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "active_sessions",
)


def series_snapshot(granularity: str) -> str:
    return f"analytics_series_{granularity}"


def decode(raw: dict[bytes, bytes]) -> dict[str, float]:
    return {k.decode(): float(v) for k, v in raw.items()}


def latency_hists(fields: dict[str, float]) -> dict[str, dict[int, int]]:
    """Histogram per model from `lat:<model>:<bin>` fields."""
    hists: defaultdict[str, dict[int, int]] = defaultdict(dict)
    for name, n in fields.items():
        if name.startswith("lat:"):
            model, _, idx = name[4:].rpartition(":")
            hists[model][int(idx)] = int(n)
    return dict(hists)


def _ratio(num: float, den: float) -> float | None:
    return round(num / den, 6) if den else None


def bucket_values(fields: dict[str, float], sessions: int | None = None) -> dict[str, Any]:
    """Every metric of one bucket (None where undefined, e.g. a rate with no traffic)."""
    merged = histogram.merge(latency_hists(fields).values())
    prompt = sum(v for k, v in fields.items() if k.startswith("tok_p:"))
    completion = sum(v for k, v in fields.items() if k.startswith("tok_c:"))
    msg = fields.get("msg", 0.0)
    values: dict[str, Any] = {
        "messages": int(msg),
        "errors": int(fields.get("err", 0)),
        "error_rate": _ratio(fields.get("err", 0.0), msg),
        "cache_hit_rate": _ratio(fields.get("cache_hit", 0.0), fields.get("cache_lookup", 0.0)),
        "tokens_prompt": int(prompt),
        "tokens_completion": int(completion),
        "tokens": int(prompt + completion),
        "active_sessions": sessions,
    }
    for pct in histogram.PERCENTILES:
        values[f"latency_p{pct}"] = histogram.percentile(merged, pct)
    for name, total in fields.items():
        if name.startswith("metric:") and name.endswith(":sum"):
            metric = name[len("metric:") : -len(":sum")]
            values[f"metric:{metric}"] = _ratio(total, fields.get(f"metric:{metric}:n", 0.0))
    return values


def build_series(
    client: RedisClient, granularity: str, points: int, now_s: float
) -> dict[str, Any]:
    """The last `points` buckets of `granularity` (the current, open one last): one pipeline."""
    span = buckets.SPAN_S[granularity]
    last = buckets.start_of(granularity, now_s)
    starts = [last - span * i for i in range(points - 1, -1, -1)]
    with client.pipeline(transaction=False) as pipe:
        for start in starts:
            pipe.hgetall(keys.analytics_bucket(granularity, start))
        if granularity == "minute":
            for start in starts:
                pipe.pfcount(keys.analytics_hll("minute", start))
        replies = pipe.execute()
    sessions = replies[points:] if granularity == "minute" else [None] * points
    rows = [
        bucket_values(decode(raw), n) for raw, n in zip(replies[:points], sessions, strict=True)
    ]
    names = set(BASE_METRICS) | {k for row in rows for k in row}
    return {
        "granularity": granularity,
        "starts": starts,
        "metrics": {name: [row.get(name) for row in rows] for name in sorted(names)},
    }


def _by_label(totals: dict[str, float], prefix: str) -> dict[str, int]:
    """Sums of the `<prefix><model>` fields per `model_label`: fields an older rollup wrote per
    raw model name (the totals hash is all-time) fold into `other` as they are read."""
    out: Counter[str] = Counter()
    for name, value in totals.items():
        if name.startswith(prefix):
            out[model_label(name[len(prefix) :])] += int(value)
    return dict(out)


def build_summary(client: RedisClient, now_s: float) -> dict[str, Any]:
    """The dashboard summary: all-time totals, today's and this month's HLLs (one pipeline)."""
    day = buckets.start_of("day", now_s)
    with client.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.analytics_totals())
        pipe.pfcount(keys.analytics_hll("day", day))
        pipe.pfcount(keys.analytics_hll("month", buckets.month_start(now_s)))
        pipe.hgetall(keys.analytics_bucket("hour", buckets.start_of("hour", now_s)))
        totals_raw, users_day, users_month, hour_raw = pipe.execute()
    totals = decode(totals_raw)
    overall = bucket_values(totals)
    by_model = _by_label(totals, "msg:m:")
    prompt, completion = _by_label(totals, "tok_p:"), _by_label(totals, "tok_c:")
    grouped: defaultdict[str, list[dict[int, int]]] = defaultdict(list)
    for model, hist in latency_hists(totals).items():
        grouped[model_label(model)].append(hist)
    hists = {m: histogram.merge(hs) for m, hs in grouped.items()}
    return {
        "messages_total": overall["messages"],
        "unique_users": int(users_day),
        "unique_users_month": int(users_month),
        "by_model": by_model,
        "by_type": {k[6:]: int(v) for k, v in totals.items() if k.startswith("msg:t:")},
        "tokens_by_model": {
            m: {"prompt": prompt.get(m, 0), "completion": completion.get(m, 0)} for m in by_model
        },
        "latency_ms_by_model": {
            m: {f"p{p}": histogram.percentile(h, p) for p in histogram.PERCENTILES}
            for m, h in hists.items()
        },
        "errors_total": overall["errors"],
        "error_rate": overall["error_rate"],
        "cache_hit_rate": overall["cache_hit_rate"],
        "tokens_total": overall["tokens"],
        "dead_letters": int(totals.get("dead", 0)),
        "dead_letters_by_reason": {
            k[5:]: int(v) for k, v in totals.items() if k.startswith("dead:")
        },
        "this_hour": bucket_values(decode(hour_raw)),
    }


def write_snapshots(
    client: RedisClient, settings: Settings, *, extra: dict[str, Any], now_s: float | None = None
) -> dict[str, Any]:
    """Build and store the summary and the three series snapshots (one pipeline of SETs)."""
    now_s = time.time() if now_s is None else now_s
    summary = {**build_summary(client, now_s), **extra}
    points = settings.analytics.series_points
    series = {g: build_series(client, g, points, now_s) for g in buckets.GRANULARITIES}
    ttl_s = max(600.0, 10 * settings.schedule.analytics_rollup_interval_s)
    with client.pipeline(transaction=False) as pipe:
        snapshots.queue_write(pipe, SUMMARY, summary, ttl_s=ttl_s, now=now_s)
        for gran, body in series.items():
            snapshots.queue_write(pipe, series_snapshot(gran), body, ttl_s=ttl_s, now=now_s)
        pipe.execute()
    return summary
