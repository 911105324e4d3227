"""On/off flag and interval of every beat job (read by schedules/ and by the health checks)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class ScheduleSettings:
    health_probe_enabled: bool = setting("HEALTH_PROBE_ENABLED", True, "Run health.probe.")
    health_probe_interval_s: float = setting(
        "HEALTH_PROBE_INTERVAL", 15.0, "Interval of health.probe.", unit="s", minimum=1
    )
    analytics_rollup_enabled: bool = setting(
        "ANALYTICS_ROLLUP_ENABLED", True, "Run analytics.rollup."
    )
    analytics_rollup_interval_s: float = setting(
        "ANALYTICS_ROLLUP_INTERVAL", 5.0, "Interval of analytics.rollup.", unit="s", minimum=1
    )
    anomaly_detect_enabled: bool = setting(
        "ANOMALY_DETECT_ENABLED", True, "Run analytics.detect_anomalies."
    )
    anomaly_detect_interval_s: float = setting(
        "ANOMALY_DETECT_INTERVAL",
        60.0,
        "Interval of analytics.detect_anomalies.",
        unit="s",
        minimum=1,
    )
    cache_warmup_enabled: bool = setting("CACHE_WARMUP_ENABLED", True, "Run cache.warmup.")
    cache_warmup_interval_s: float = setting(
        "CACHE_WARMUP_INTERVAL", 300.0, "Interval of cache.warmup.", unit="s", minimum=1
    )
    cache_sweep_enabled: bool = setting(
        "CACHE_SWEEP_ENABLED", True, "Run the scheduled cache.invalidate sweep."
    )
    cache_sweep_interval_s: float = setting(
        "CACHE_SWEEP_INTERVAL",
        600.0,
        "Interval of the cache.invalidate sweep.",
        unit="s",
        minimum=1,
    )
    cache_outbox_enabled: bool = setting(
        "CACHE_OUTBOX_ENABLED",
        True,
        "Run cache.deliver_outbox (multi-region only: retries invalidations other regions missed).",
    )
    cache_outbox_interval_s: float = setting(
        "CACHE_OUTBOX_INTERVAL",
        5.0,
        "Interval of cache.deliver_outbox.",
        unit="s",
        minimum=1,
    )
    audit_trim_enabled: bool = setting("AUDIT_TRIM_ENABLED", True, "Run audit.trim.")
    audit_trim_interval_s: float = setting(
        "AUDIT_TRIM_INTERVAL", 60.0, "Interval of audit.trim.", unit="s", minimum=1
    )
    audit_verify_enabled: bool = setting("AUDIT_VERIFY_ENABLED", True, "Run audit.verify.")
    audit_verify_interval_s: float = setting(
        "AUDIT_VERIFY_INTERVAL", 3600.0, "Interval of audit.verify.", unit="s", minimum=1
    )
    sessions_sweep_enabled: bool = setting("SESSIONS_SWEEP_ENABLED", True, "Run sessions.sweep.")
    sessions_sweep_interval_s: float = setting(
        "SESSIONS_SWEEP_INTERVAL", 30.0, "Interval of sessions.sweep.", unit="s", minimum=1
    )
    files_cleanup_enabled: bool = setting("FILES_CLEANUP_ENABLED", True, "Run files.cleanup.")
    files_cleanup_interval_s: float = setting(
        "FILES_CLEANUP_INTERVAL", 3600.0, "Interval of files.cleanup.", unit="s", minimum=1
    )
