"""Every Redis key of the data plane is built here, and only here.

All keys start with KEY_PREFIX (`P`, default `cb:`). Keys that one Lua script or one MULTI/EXEC
touches together share a hash tag (`{...}`), so they live in one Redis Cluster slot. Untrusted
ids pass through `safe_id()` before they reach a key, and through `glob_escape()` before they
reach a SCAN MATCH pattern.

| key                          | type   | TTL                     | writer              | reader            |
|------------------------------|--------|-------------------------|---------------------|-------------------|
| P snap:<name>                | string | ~10 job intervals       | the job's beat task | web, health       |
| P lock:<task>                | string | the task's time limit   | periodic tasks      | periodic tasks    |
| P beat:heartbeat             | string | HEALTH_BEAT_STALE × 4   | beat scheduler      | health.probe      |
| P redbeat:*                  | (RedBeat's schedule and scheduler lock)          | beat              | beat              |
| P rl:{u:<id>}:<policy>       | string | until the bucket is full| guards (Lua)        | guards (Lua)      |
| P rl:{u:<id>}:res:<rid>      | string | TOKEN_RESERVATION_TTL   | guards (Lua)        | guard settle (Lua)|
| P sess:{u:<id>}              | zset   | last deadline           | guards (Lua)        | guards, sweep     |
| P {an}:events                | stream | MAXLEN ~                | web (XADD)          | analytics.rollup  |
| P {an}:events:dead           | stream | MAXLEN ~                | analytics.rollup    | operators         |
| P {an}:metrics               | stream | MAXLEN ~                | publish_metric      | analytics.rollup  |
| P {an}:popularity            | zset   | none (decayed, trimmed) | analytics.rollup    | cache.warmup      |
| P {an}:popularity:decayed_at | string | none                    | analytics.rollup    | analytics.rollup  |
| P {an}:b:<gran>:<start_s>    | hash   | ANALYTICS_<GRAN>_RETENTION | analytics.rollup | rollup, snapshots |
| P {an}:closing               | zset   | none (drained)          | analytics.rollup    | rollup (to SQL)   |
| P {an}:totals                | hash   | none                    | analytics.rollup    | rollup snapshot   |
| P {an}:hll:<gran>:<start_s>  | HLL    | granularity retention   | analytics.rollup    | rollup snapshot   |
| P {an}:hll:region:<region>   | HLL    | 60 s (deleted at once)  | analytics.rollup    | analytics.rollup  |
| P {an}:users:<day_start_s>   | hash   | ANALYTICS_USER_COUNTS_RETENTION | analytics.rollup | operators |
| P {an}:alerts                | stream | MAXLEN ~                | detect_anomalies    | web, operators    |
| P {an}:alert:<metric>:<dir>  | string | ANOMALY_COOLDOWN        | detect_anomalies    | detect_anomalies  |
| P cache:q:<qhash>            | string | CACHE_QUERY_TEXT_TTL    | cache (live miss)   | cache.warmup      |
| P cache:r:g:<khash>          | string | soft+stale TTL, jittered| web miss, warmup    | web (GET)         |
| P cache:r:{u:<id>}:<khash>   | string | soft+stale TTL, jittered| web miss, refresh   | web (MGET w/ gen) |
| P cache:gen:{u:<id>}         | string | > longest entry TTL     | cache.invalidate    | web (MGET), reap  |
| P cache:fl:<kind>:<entry>    | string | CACHE_FLIGHT_TTL        | web (SET NX)        | web, cache.refresh|
| P cache:tag:<tag>            | set    | never shortens (GT)     | cache store         | cache.invalidate  |
| P cache:stats                | hash   | none (counters)         | web, warmup         | health, warmup    |
| P cache:hits                 | zset   | none (decayed, trimmed) | web                 | cache.warmup      |
| P cache:inv:jobs             | hash   | CACHE_INVALIDATE_JOB_TTL | cache.invalidate    | cache.invalidate  |
| P cache:inv:users            | set    | none (members removed)  | cache.invalidate    | cache.invalidate  |
| P cache:outbox               | hash   | none (fields delivered) | web (admin fan-out) | deliver_outbox    |
| P {audit}:stream             | stream | trimmed after archiving | log_event (XADD)    | audit.trim, web   |
| P {audit}:watermark          | string | none                    | audit.trim (mirror) | web, health       |
| P {audit}:ep:<type>:<actor>  | string | the refusal's Retry-After | web refusal audit | web refusal audit |
| P {audit}:ep:<type>:<actor>:n| string | 1 day                   | web refusal audit | web refusal audit |
| P file:<file_id>             | hash   | FILES_STATUS_TTL        | files.process, web  | web, files.cleanup|
| P tasks:dead                 | stream | MAXLEN ~ 10000          | task_failure signal | operators, tests  |
"""

from __future__ import annotations

import functools
import hashlib
import re

from shared.settings import get_settings

_SAFE_ID = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


def prefix() -> str:
    return get_settings().conn.key_prefix


def safe_id(raw: str | bytes) -> str:
    """A key-safe form of an untrusted id.

    Ids made of letters, digits and `_.@-` (at most 64) are kept as they are, so keys stay
    readable; anything else (glob characters, braces, colons, long or non-UTF-8 input) becomes
    `~` plus a BLAKE2b digest. `~` never appears in a kept id, so the two forms cannot collide.
    """
    # The same few ids (the caller, the model label, the cache hash) recur on every request, so
    # a pure result is memoized; long inputs are not, so the memo's memory stays small.
    if len(raw) > _MEMO_MAX_LEN:
        return _safe_id(raw)
    return _safe_id_memo(raw)


def _safe_id(raw: str | bytes) -> str:
    if isinstance(raw, str) and _SAFE_ID.fullmatch(raw):
        return raw
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    return "~" + hashlib.blake2b(data, digest_size=16).hexdigest()


_MEMO_MAX_LEN = 256
_safe_id_memo = functools.lru_cache(maxsize=4096)(_safe_id)


def glob_escape(text: str) -> str:
    """Escape `\\ * ? [ ]` so `text` matches only itself in a SCAN MATCH pattern."""
    return _GLOB_SPECIAL.sub(r"\\\1", text)


def user_tag(user_id: str | bytes) -> str:
    """The hash tag that keeps every per-user key of one user in one cluster slot."""
    return "{u:" + safe_id(user_id) + "}"


# --- platform ---------------------------------------------------------------------------------


def snapshot(name: str) -> str:
    return f"{prefix()}snap:{name}"


def run_lock(task_name: str) -> str:
    return f"{prefix()}lock:{task_name}"


def beat_heartbeat() -> str:
    return f"{prefix()}beat:heartbeat"


def redbeat_prefix() -> str:
    return f"{prefix()}redbeat:"


# --- guards -----------------------------------------------------------------------------------


def rate_limit(identity: str | bytes, policy: str) -> str:
    return f"{prefix()}rl:{user_tag(identity)}:{policy}"


def rate_reservation(identity: str | bytes, reservation_id: str) -> str:
    """STRING: units reserved per token policy until settled; same tag as the buckets."""
    return f"{prefix()}rl:{user_tag(identity)}:res:{safe_id(reservation_id)}"


def sessions(user_id: str | bytes) -> str:
    return f"{prefix()}sess:{user_tag(user_id)}"


def sessions_pattern() -> str:
    return f"{prefix()}sess:*"


# --- analytics --------------------------------------------------------------------------------


def events_stream() -> str:
    return f"{prefix()}{{an}}:events"


def events_dead_letter() -> str:
    return f"{prefix()}{{an}}:events:dead"


def metrics_stream() -> str:
    return f"{prefix()}{{an}}:metrics"


def popularity() -> str:
    """ZSET: member = query_hash of a normalised query, score = decayed popularity."""
    return f"{prefix()}{{an}}:popularity"


def popularity_decayed_at() -> str:
    """STRING: when the popularity ZSET was last decayed (integer microseconds)."""
    return f"{prefix()}{{an}}:popularity:decayed_at"


def analytics_bucket(granularity: str, start_s: int) -> str:
    """HASH of one time bucket's counters (granularity minute|hour|day, start in epoch s)."""
    return f"{prefix()}{{an}}:b:{granularity}:{int(start_s)}"


def analytics_closing() -> str:
    """ZSET of buckets touched since their last SQL upsert: member `gran:start`, score = end."""
    return f"{prefix()}{{an}}:closing"


def analytics_totals() -> str:
    return f"{prefix()}{{an}}:totals"


def analytics_hll(granularity: str, start_s: int) -> str:
    """HyperLogLog of distinct users (`day`, `month`) or sessions (`minute`) in one bucket."""
    return f"{prefix()}{{an}}:hll:{granularity}:{int(start_s)}"


def analytics_region_hll(region: str) -> str:
    """HLL: a copy of another region's day HyperLogLog, for one PFCOUNT union (seconds-long)."""
    return f"{prefix()}{{an}}:hll:region:{safe_id(region)}"


def analytics_user_counts(day_start_s: int) -> str:
    return f"{prefix()}{{an}}:users:{int(day_start_s)}"


def alerts_stream() -> str:
    return f"{prefix()}{{an}}:alerts"


def alert_dedupe(metric: str, direction: str) -> str:
    return f"{prefix()}{{an}}:alert:{safe_id(metric)}:{safe_id(direction)}"


# --- cache ------------------------------------------------------------------------------------


def cache_query_text(qhash: str) -> str:
    """STRING: the normalised text (and model) of a query seen by the cache, for warmup."""
    return f"{prefix()}cache:q:{safe_id(qhash)}"


def cache_namespace() -> str:
    """The prefix of every cache key; admin patterns must stay inside it."""
    return f"{prefix()}cache:"


def cache_entries_prefix() -> str:
    """The prefix of every cached answer (global and per user)."""
    return f"{prefix()}cache:r:"


def cache_entry(khash: str, user_id: str | bytes | None = None) -> str:
    """STRING: one cached answer, global or in the user's slot (shares `{u:<id>}` with its gen)."""
    scope = "g" if user_id is None else user_tag(user_id)
    return f"{prefix()}cache:r:{scope}:{safe_id(khash)}"


def cache_user_entries_pattern(user_id: str | bytes) -> str:
    """SCAN MATCH pattern of exactly one user's answers (the id is hashed or glob-escaped)."""
    return f"{glob_escape(prefix())}cache:r:{glob_escape(user_tag(user_id))}:*"


def cache_user_generation(user_id: str | bytes) -> str:
    """STRING (integer): the user's cache generation; bumping it retires every answer at once."""
    return f"{prefix()}cache:gen:{user_tag(user_id)}"


def cache_flight(kind: str, entry_key: str) -> str:
    """STRING: single-flight marker (`fill` on a miss, `refresh` when stale) of one entry."""
    return f"{prefix()}cache:fl:{kind}:{entry_key.removeprefix(prefix())}"


def cache_tag(tag: str) -> str:
    """SET: the entry keys carrying `tag`; its TTL only ever grows (EXPIRE NX + EXPIRE GT)."""
    return f"{prefix()}cache:tag:{safe_id(tag)}"


def cache_tags_pattern() -> str:
    return f"{glob_escape(prefix())}cache:tag:*"


def cache_stats() -> str:
    """HASH: app-level counters (`hit:<source>`, `stale:<source>`, `miss`)."""
    return f"{prefix()}cache:stats"


def cache_hits() -> str:
    """ZSET: member = query hash, score = decayed hit count (warmup's fallback popularity)."""
    return f"{prefix()}cache:hits"


def cache_invalidation_jobs() -> str:
    """HASH: job id → JSON cursor and counts of an unfinished pattern/user invalidation."""
    return f"{prefix()}cache:inv:jobs"


def cache_users_to_reap() -> str:
    """SET: users whose generation was bumped and whose old answers still use memory."""
    return f"{prefix()}cache:inv:users"


def cache_outbox() -> str:
    """HASH: `<region>|<fan-out id>` → JSON invalidation another region's broker refused."""
    return f"{prefix()}cache:outbox"


# --- audit ------------------------------------------------------------------------------------


def audit_stream() -> str:
    return f"{prefix()}{{audit}}:stream"


def audit_watermark() -> str:
    return f"{prefix()}{{audit}}:watermark"


def audit_refusal_episode(event_type: str, actor: str) -> str:
    """STRING: present while one actor's refusal episode lasts; the stream's slot, so one
    script checks it and appends the event."""
    return f"{prefix()}{{audit}}:ep:{safe_id(event_type)}:{safe_id(actor)}"


def audit_refusal_suppressed(event_type: str, actor: str) -> str:
    """STRING: refusals folded into episodes since the last audited one (reported with it)."""
    return audit_refusal_episode(event_type, actor) + ":n"


# --- files ------------------------------------------------------------------------------------


def file_status(file_id: str) -> str:
    return f"{prefix()}file:{safe_id(file_id)}"


# --- faults -----------------------------------------------------------------------------------


def task_dead_letter() -> str:
    """STREAM: one entry per task that failed for good (after its retries); see shared.deadletter."""
    return f"{prefix()}tasks:dead"
