"""Aggregate one batch of stream entries in Python into a `Delta` of Redis counter updates.

Pure (no Redis I/O): the rollup applies a `Delta` in one MULTI/EXEC together with the XACK of
the batch, and the tests recount the same events independently and compare.

Bucket hash fields (the same names are summed into `keys.analytics_totals()`):
`msg`, `msg:m:<model>`, `msg:t:<type>`, `tok_p:<model>`, `tok_c:<model>`, `err`,
`cache_hit`, `cache_lookup`, `lat:<model>:<bin>` (see `histogram`), and for the metrics
stream `metric:<name>:sum` / `metric:<name>:n`.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from shared import keys
from shared.analytics import buckets, histogram
from shared.analytics.events import Event
from shared.keys import safe_id
from shared.settings.analytics import AnalyticsSettings


@dataclass
class Delta:
    """Everything one batch changes; applied atomically with the batch's XACK."""

    incr: defaultdict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    incr_float: defaultdict[tuple[str, str], float] = field(
        default_factory=lambda: defaultdict(float)
    )
    expire_at: dict[str, int] = field(default_factory=dict)
    hll: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    closing: dict[str, int] = field(default_factory=dict)
    popularity: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    dead: list[tuple[bytes, str, dict[bytes, bytes]]] = field(default_factory=list)
    ack_ids: list[bytes] = field(default_factory=list)
    events: int = 0
    metrics: int = 0
    expired: int = 0


def _bucket_keys(
    delta: Delta, ts_s: float, now_s: float, settings: AnalyticsSettings
) -> list[tuple[str, str, int]]:
    """(granularity, key, start) of every bucket `ts_s` falls in that is still retained."""
    found = []
    for gran in buckets.GRANULARITIES:
        start = buckets.start_of(gran, ts_s)
        expire_at = buckets.expire_at_s(gran, start, settings)
        if expire_at <= now_s:
            # A bucket already past retention would be recreated holding only late events and
            # then upserted over the complete SQL row: skip it (counted as `expired`).
            delta.expired += 1
            continue
        key = keys.analytics_bucket(gran, start)
        delta.expire_at[key] = expire_at
        if gran in settings.persist_granularities:
            delta.closing[f"{gran}:{start}"] = start + buckets.SPAN_S[gran]
        found.append((gran, key, start))
    return found


def add_event(delta: Delta, ev: Event, now_s: float, settings: AnalyticsSettings) -> None:
    """Fold one valid chat event into `delta`."""
    delta.events += 1
    ts_s = ev.ts_ms / 1000
    fields = [
        ("msg", 1),
        (f"msg:m:{ev.model}", 1),
        (f"msg:t:{ev.type}", 1),
        (f"tok_p:{ev.model}", ev.prompt_tokens),
        (f"tok_c:{ev.model}", ev.completion_tokens),
        (f"lat:{ev.model}:{histogram.bin_of(ev.latency_ms)}", 1),
    ]
    if ev.error:
        fields.append(("err", 1))
    if ev.cache_hit is not None:
        fields.append(("cache_lookup", 1))
        if ev.cache_hit:
            fields.append(("cache_hit", 1))
    targets = [key for _, key, _ in _bucket_keys(delta, ts_s, now_s, settings)]
    targets.append(keys.analytics_totals())
    for key in targets:
        for name, n in fields:
            delta.incr[key, name] += n

    day = buckets.start_of("day", ts_s)
    if day + 86_400 + settings.day_retention_s > now_s:
        day_key = keys.analytics_hll("day", day)
        delta.hll[day_key].add(ev.user)
        delta.expire_at[day_key] = buckets.expire_at_s("day", day, settings)
        # The month's HLL is the union of its days; adding each user to both is the same union
        # as a PFMERGE of the days, without re-reading them.
        month = buckets.month_start(ts_s)
        month_key = keys.analytics_hll("month", month)
        delta.hll[month_key].add(ev.user)
        delta.expire_at[month_key] = buckets.next_month_start(month) + settings.day_retention_s
        users_key = keys.analytics_user_counts(day)
        delta.incr[users_key, safe_id(ev.user)] += 1
        delta.expire_at[users_key] = day + 86_400 + settings.user_counts_retention_s
    minute = buckets.start_of("minute", ts_s)
    if buckets.expire_at_s("minute", minute, settings) > now_s:
        sess_key = keys.analytics_hll("minute", minute)
        delta.hll[sess_key].add(ev.session or ev.user)
        delta.expire_at[sess_key] = buckets.expire_at_s("minute", minute, settings)

    if ev.qhash:
        # Weight as of `now`: the popularity ZSET was decayed to `now` just before this batch.
        age_s = max(0.0, now_s - ts_s)
        delta.popularity[ev.qhash] += 0.5 ** (age_s / settings.popularity_half_life_s)


def add_metric(
    delta: Delta, ts_ms: int, name: str, value: float, *, now_s: float, settings: AnalyticsSettings
) -> None:
    """Fold one metrics-stream sample into the time buckets (sum and count, for the mean)."""
    delta.metrics += 1
    for _, key, _ in _bucket_keys(delta, ts_ms / 1000, now_s, settings):
        delta.incr_float[key, f"metric:{name}:sum"] += value
        delta.incr[key, f"metric:{name}:n"] += 1


def add_dead(delta: Delta, entry_id: bytes, reason: str, fields: dict[bytes, bytes]) -> None:
    delta.dead.append((entry_id, reason, fields))
    delta.incr[keys.analytics_totals(), "dead"] += 1
    delta.incr[keys.analytics_totals(), f"dead:{reason.split(':', 1)[0]}"] += 1
