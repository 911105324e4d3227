"""Aggregate one batch of stream entries in Python into a `Delta` of Redis updates.

Pure (no Redis I/O). The hot loop only counts compact tuples (minute, model, type, latency bin,
error, cache state) in Counters; `Batch.finish` then expands each distinct tuple into the hash
fields of its minute, hour and day buckets and the all-time totals. The rollup applies a
`Delta` in one MULTI/EXEC together with the XACK of the batch; the tests recount the same
events naively and compare.

Bucket hash fields (the same names are summed into `keys.analytics_totals()`):
`msg`, `msg:m:<model>`, `msg:t:<type>`, `tok_p:<model>`, `tok_c:<model>`, `err`,
`cache_hit`, `cache_lookup`, `lat:<model>:<bin>` (see `histogram`), and for the metrics
stream `metric:<name>:sum` / `metric:<name>:n`. `<model>` is `model_label(model)`: a known model
or `other`, so clients cannot add fields by inventing model names.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from shared import keys
from shared.analytics import buckets
from shared.analytics.events import EventError, parse
from shared.analytics.histogram import bin_of
from shared.models_catalog import model_label
from shared.settings.analytics import AnalyticsSettings


def _hashes() -> defaultdict[str, Counter[str]]:
    return defaultdict(Counter)


@dataclass
class Delta:
    """Everything one batch changes; applied atomically with the batch's XACK."""

    hincr: defaultdict[str, Counter[str]] = field(default_factory=_hashes)
    hincr_float: defaultdict[str, defaultdict[str, float]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(float))
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


class Batch:
    """Accumulates one batch in compact counters, then expands them into a `Delta`."""

    def __init__(self, now_s: float, settings: AnalyticsSettings) -> None:
        self.now_s = now_s
        self.settings = settings
        self.delta = Delta()
        self.counts: Counter[tuple[int, str, str, int, bool, bool | None]] = Counter()
        self.tokens: defaultdict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
        self.users: defaultdict[int, set[str]] = defaultdict(set)
        self.user_counts: Counter[tuple[int, str]] = Counter()
        self.sessions: defaultdict[int, set[str]] = defaultdict(set)
        self.queries: Counter[tuple[int, str]] = Counter()
        self.samples: defaultdict[tuple[int, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
        self._targets: dict[int, list[str]] = {}

    def add_events(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Validate and count chat-event entries; malformed ones go to the dead letters.

        One loop with local names: this is the rollup's hot path (a few µs per event).
        """
        counts, tokens, users = self.counts, self.tokens, self.users
        user_counts, sessions, queries = self.user_counts, self.sessions, self.queries
        max_bytes = self.settings.max_event_bytes
        good = 0
        for entry_id, fields in entries:
            try:
                # Unpacked in one step: attribute access would cost more than the counting.
                ts_ms, type_, user, session, model, pt, ct, latency_ms, hit, error, qhash = parse(
                    entry_id, fields, max_bytes
                )
            except EventError as exc:
                self.add_dead(entry_id, str(exc), fields)
                continue
            good += 1
            minute = ts_ms // 60_000 * 60
            counts[minute, model, type_, bin_of(latency_ms), bool(error), hit] += 1
            pair = tokens[minute, model]
            pair[0] += pt
            pair[1] += ct
            day = minute - minute % 86_400
            users[day].add(user)
            user_counts[day, user] += 1
            sessions[minute].add(session or user)
            if qhash:
                queries[minute, qhash] += 1
        self.delta.events += good

    def add_metric(self, ts_ms: int, name: str, value: float) -> None:
        sample = self.samples[ts_ms // 60_000 * 60, name]
        sample[0] += value
        sample[1] += 1
        self.delta.metrics += 1

    def add_dead(self, entry_id: bytes, reason: str, fields: dict[bytes, bytes]) -> None:
        self.delta.dead.append((entry_id, reason, fields))
        totals = self.delta.hincr[keys.analytics_totals()]
        totals["dead"] += 1
        totals[f"dead:{reason.split(':', 1)[0]}"] += 1

    def _retained(self, gran: str, start: int) -> bool:
        return buckets.expire_at_s(gran, start, self.settings) > self.now_s

    def targets(self, minute: int) -> list[str]:
        """Bucket keys (still within retention) of a minute, plus the totals; cached per batch."""
        found = self._targets.get(minute)
        if found is None:
            found = []
            for gran in buckets.GRANULARITIES:
                start = buckets.start_of(gran, minute)
                if not self._retained(gran, start):
                    # A bucket past retention would be recreated holding only late events and
                    # then upserted over the complete SQL row: skip it (counted as `expired`).
                    continue
                key = keys.analytics_bucket(gran, start)
                self.delta.expire_at[key] = buckets.expire_at_s(gran, start, self.settings)
                if gran in self.settings.persist_granularities:
                    self.delta.closing[f"{gran}:{start}"] = start + buckets.SPAN_S[gran]
                found.append(key)
            found.append(keys.analytics_totals())
            self._targets[minute] = found
        return found

    def finish(self) -> Delta:
        """Expand the counters into hash increments, HLL adds, expiries and popularity."""
        self._expand_counters()
        self._expand_people()
        d, s = self.delta, self.settings
        for (minute, qhash), n in self.queries.items():
            # Weight as of `now` (the ZSET was decayed to `now` just before this batch), taking
            # the middle of the event's minute as its time.
            age_s = max(0.0, self.now_s - minute - 30)
            d.popularity[qhash] += n * 0.5 ** (age_s / s.popularity_half_life_s)
        return d

    def _expand_counters(self) -> None:
        d, hincr = self.delta, self.delta.hincr
        known = self.settings.known_models
        for (minute, model, type_, lat_bin, error, hit), n in self.counts.items():
            targets = self.targets(minute)
            d.expired += n * (len(buckets.GRANULARITIES) + 1 - len(targets))
            label = model_label(model, known)
            names = ["msg", f"msg:m:{label}", f"msg:t:{type_}", f"lat:{label}:{lat_bin}"]
            if error:
                names.append("err")
            if hit is not None:
                names.append("cache_lookup")
                if hit:
                    names.append("cache_hit")
            for key in targets:
                fields = hincr[key]
                for name in names:
                    fields[name] += n
        for (minute, model), (pt, ct) in self.tokens.items():
            label = model_label(model, known)
            for key in self.targets(minute):
                hincr[key][f"tok_p:{label}"] += pt
                hincr[key][f"tok_c:{label}"] += ct
        for (minute, name), (total, count) in self.samples.items():
            for key in self.targets(minute):
                d.hincr_float[key][f"metric:{name}:sum"] += total
                hincr[key][f"metric:{name}:n"] += int(count)

    def _expand_people(self) -> None:
        d, s, hincr = self.delta, self.settings, self.delta.hincr
        for day, users in self.users.items():
            if not self._retained("day", day):
                continue
            day_key = keys.analytics_hll("day", day)
            d.hll[day_key] |= users
            d.expire_at[day_key] = buckets.expire_at_s("day", day, s)
            # The month's HLL is the union of its days; adding each user to both is the same
            # union as a PFMERGE of the days, without re-reading them.
            month = buckets.month_start(day)
            month_key = keys.analytics_hll("month", month)
            d.hll[month_key] |= users
            d.expire_at[month_key] = buckets.next_month_start(month) + s.day_retention_s
            d.expire_at[keys.analytics_user_counts(day)] = day + 86_400 + s.user_counts_retention_s
        per_day = {day: hincr[keys.analytics_user_counts(day)] for day in self.users}
        for (day, user), n in self.user_counts.items():
            if self._retained("day", day):
                per_day[day][keys.safe_id(user)] += n
        for minute, sessions in self.sessions.items():
            if self._retained("minute", minute):
                key = keys.analytics_hll("minute", minute)
                d.hll[key] |= sessions
                d.expire_at[key] = buckets.expire_at_s("minute", minute, s)
