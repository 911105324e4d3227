"""Settings of the analytics domain: streams, rollup batches, retention, popularity, anomalies."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class AnalyticsSettings:
    events_maxlen: int = setting(
        "ANALYTICS_EVENTS_MAXLEN",
        1_000_000,
        "Approximate bound (XADD MAXLEN ~) of the event stream; lag beyond it is lost.",
        minimum=1000,
    )
    metrics_maxlen: int = setting(
        "ANALYTICS_METRICS_MAXLEN",
        100_000,
        "Approximate bound of the metrics stream (publish_metric).",
        minimum=100,
    )
    dead_letter_maxlen: int = setting(
        "ANALYTICS_DEAD_LETTER_MAXLEN", 10_000, "Approximate bound of the dead-letter stream."
    )
    batch_size: int = setting(
        "ANALYTICS_BATCH_SIZE",
        2000,
        "Entries per XREADGROUP batch; each batch is one MULTI/EXEC.",
        minimum=1,
        maximum=100_000,
    )
    max_batches: int = setting(
        "ANALYTICS_MAX_BATCHES_PER_RUN",
        500,
        "Bound on the batches one rollup run consumes (the next tick continues).",
        minimum=1,
    )
    claim_idle_s: float = setting(
        "ANALYTICS_CLAIM_IDLE",
        60.0,
        "XAUTOCLAIM entries pending this long with a consumer that died.",
        unit="s",
        minimum=0.1,
    )
    max_event_bytes: int = setting(
        "ANALYTICS_MAX_EVENT_BYTES",
        4096,
        "An event larger than this is dead-lettered as oversized.",
        unit="bytes",
        minimum=256,
    )
    minute_retention_s: int = setting(
        "ANALYTICS_MINUTE_RETENTION",
        2 * 86_400,
        "How long minute buckets live in Redis.",
        unit="s",
        minimum=600,
    )
    hour_retention_s: int = setting(
        "ANALYTICS_HOUR_RETENTION",
        35 * 86_400,
        "How long hour buckets live in Redis (>= 4 weeks feeds the same-hour-of-week baseline).",
        unit="s",
        minimum=7200,
    )
    day_retention_s: int = setting(
        "ANALYTICS_DAY_RETENTION",
        400 * 86_400,
        "How long day buckets (and daily unique-user HLLs) live in Redis.",
        unit="s",
        minimum=2 * 86_400,
    )
    user_counts_retention_s: int = setting(
        "ANALYTICS_USER_COUNTS_RETENTION",
        8 * 86_400,
        "How long per-user daily message counts live in Redis.",
        unit="s",
        minimum=86_400,
    )
    persist_granularities: tuple[str, ...] = setting(
        "ANALYTICS_PERSIST_GRANULARITIES",
        ("minute", "hour", "day"),
        "Closed buckets of these granularities are upserted to SQL.",
        choices=("minute", "hour", "day"),
    )
    close_grace_s: float = setting(
        "ANALYTICS_CLOSE_GRACE",
        60.0,
        "A bucket counts as closed this long after its end (late events still land).",
        unit="s",
        minimum=0,
    )
    popularity_half_life_s: float = setting(
        "ANALYTICS_POPULARITY_HALF_LIFE",
        3600.0,
        "Half-life of the decayed query popularity.",
        unit="s",
        minimum=1,
    )
    popularity_max: int = setting(
        "ANALYTICS_POPULARITY_MAX",
        10_000,
        "Members kept in the popularity ZSET (the least popular are trimmed).",
        minimum=10,
    )
    series_points: int = setting(
        "ANALYTICS_SERIES_POINTS",
        120,
        "Points per precomputed time series (each granularity).",
        minimum=10,
        maximum=2000,
    )
    lag_warn: int = setting(
        "ANALYTICS_LAG_WARN",
        50_000,
        "Health warns when the rollup is this many entries behind the event stream.",
        minimum=1,
    )
    anomaly_min_volume: int = setting(
        "ANOMALY_MIN_VOLUME",
        20,
        "No anomaly is raised from a minute with fewer messages than this.",
        minimum=0,
    )
    anomaly_threshold: float = setting(
        "ANOMALY_THRESHOLD",
        3.5,
        "Score each detector must exceed (robust z, EWMA sigmas, MAD units).",
        minimum=1,
    )
    anomaly_min_votes: int = setting(
        "ANOMALY_MIN_VOTES",
        2,
        "Detectors that must agree before an anomaly is raised.",
        minimum=1,
        maximum=3,
    )
    anomaly_stale_s: float = setting(
        "ANOMALY_STALE",
        300.0,
        "Skip detection when the newest rolled-up minute is older than this.",
        unit="s",
        minimum=60,
    )
    anomaly_cooldown_s: float = setting(
        "ANOMALY_COOLDOWN",
        900.0,
        "One alert per metric and direction within this window (dedupe).",
        unit="s",
        minimum=1,
    )
    known_models: tuple[str, ...] = setting(
        "KNOWN_MODELS",
        ("demo",),
        "Comma-separated model names counted by name in metric labels, analytics and per-model "
        "token buckets; requests for any other model are counted as `other` (bounded labels).",
    )
