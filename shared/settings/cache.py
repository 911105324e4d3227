"""Settings of the cache domain: TTLs, compression, single-flight, warmup and invalidation pacing.

The beat intervals and on/off flags of `cache.warmup` and the scheduled sweep live in
`shared/settings/schedule.py` with every other beat job.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class CacheSettings:
    enabled: bool = setting("CACHE_ENABLED", True, "Serve and store chat answers in the cache.")
    ttl_s: float = setting(
        "CACHE_TTL",
        3600.0,
        "Soft TTL of a cached answer: past it the answer is stale and refreshed.",
        unit="s",
        minimum=1,
    )
    stale_ttl_s: float = setting(
        "CACHE_STALE_TTL",
        600.0,
        "How long past its soft TTL a stale answer is still served (while one refresh runs).",
        unit="s",
        minimum=0,
    )
    jitter_ratio: float = setting(
        "CACHE_TTL_JITTER",
        0.1,
        "Each TTL is scaled by a random factor in [1-j, 1+j], so entries do not expire together.",
        minimum=0,
        maximum=0.5,
    )
    compress_min_bytes: int = setting(
        "CACHE_COMPRESS_MIN_BYTES",
        1024,
        "Envelopes at least this large are compressed.",
        unit="bytes",
        minimum=0,
    )
    codec: str = setting(
        "CACHE_CODEC",
        "zstd",
        "Compression codec (zstd measured fastest at a better ratio; see benchmarks/README.md).",
        choices=("zstd", "zlib", "lz4"),
    )
    template_version: str = setting(
        "CACHE_TEMPLATE_VERSION",
        "v1",
        "Prompt-template version, part of every key: bump it to retire all answers at once.",
    )
    chat_scope: str = setting(
        "CACHE_CHAT_SCOPE",
        "global",
        "Scope of /chat answers of authenticated callers: `global` (shared) or `user`.",
        choices=("global", "user"),
    )
    query_text_ttl_s: float = setting(
        "CACHE_QUERY_TEXT_TTL",
        7 * 86400.0,
        "How long the normalised text of a query is kept for warmup.",
        unit="s",
        minimum=60,
    )
    fill_wait_s: float = setting(
        "CACHE_FILL_WAIT",
        10.0,
        "How long a concurrent miss waits for the one request generating the same answer.",
        unit="s",
        minimum=0,
    )
    flight_ttl_s: float = setting(
        "CACHE_FLIGHT_TTL",
        60.0,
        "TTL of the single-flight fill/refresh markers (bounds a crashed generator's hold).",
        unit="s",
        minimum=1,
    )
    hit_rate_target: float = setting(
        "CACHE_HIT_RATE_TARGET",
        0.8,
        "Health warns when the app-level hit rate is below this (after 100 lookups).",
        minimum=0,
        maximum=1,
    )
    warmup_top_n: int = setting(
        "CACHE_WARMUP_TOP_N", 200, "Most popular queries considered by each warmup.", minimum=1
    )
    warmup_concurrency: int = setting(
        "CACHE_WARMUP_CONCURRENCY",
        4,
        "Answers generated at the same time by one warmup run.",
        minimum=1,
        maximum=64,
    )
    warmup_near_expiry_ratio: float = setting(
        "CACHE_WARMUP_NEAR_EXPIRY",
        0.2,
        "Warmup regenerates entries with less than this fraction of their soft TTL left.",
        minimum=0,
        maximum=1,
    )
    scan_count: int = setting(
        "CACHE_INVALIDATE_SCAN_COUNT",
        2000,
        "SCAN COUNT of pattern invalidation (slots visited per round trip).",
        minimum=10,
        maximum=100_000,
    )
    unlink_batch: int = setting(
        "CACHE_INVALIDATE_BATCH",
        500,
        "Most keys in one UNLINK of an invalidation.",
        minimum=1,
        maximum=10_000,
    )
    parallel: int = setting(
        "CACHE_INVALIDATE_PARALLEL",
        1,
        "SCAN cursor chains walked at once (standalone; 1, 2, 4): more is faster, less responsive.",
        minimum=1,
        maximum=16,
    )
    pause_ms: float = setting(
        "CACHE_INVALIDATE_PAUSE",
        0.0,
        "Pause between invalidation round trips (pacing, on top of short bounded commands).",
        unit="ms",
        minimum=0,
    )
    job_ttl_s: float = setting(
        "CACHE_INVALIDATE_JOB_TTL",
        86400.0,
        "Unfinished invalidation cursors are dropped this long after the last one was saved.",
        unit="s",
        minimum=60,
    )
