"""Time buckets: minute, hour and day (UTC), their bounds, keys' expiry and months for HLLs."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.settings.analytics import AnalyticsSettings

SPAN_S = {"minute": 60, "hour": 3600, "day": 86_400}
GRANULARITIES = tuple(SPAN_S)


def start_of(granularity: str, ts_s: float) -> int:
    """Start (epoch s) of the bucket of `granularity` holding `ts_s`."""
    span = SPAN_S[granularity]
    return int(ts_s // span) * span


def retention_s(granularity: str, settings: AnalyticsSettings) -> int:
    return {
        "minute": settings.minute_retention_s,
        "hour": settings.hour_retention_s,
        "day": settings.day_retention_s,
    }[granularity]


def expire_at_s(granularity: str, start_s: int, settings: AnalyticsSettings) -> int:
    """When a bucket's keys expire: its end plus the granularity's retention (EXPIREAT)."""
    return start_s + SPAN_S[granularity] + retention_s(granularity, settings)


def month_start(ts_s: float) -> int:
    """Start (epoch s) of the UTC calendar month holding `ts_s`."""
    day = datetime.fromtimestamp(ts_s, UTC)
    return int(datetime(day.year, day.month, 1, tzinfo=UTC).timestamp())


def next_month_start(month_start_s: int) -> int:
    day = datetime.fromtimestamp(month_start_s, UTC)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())
