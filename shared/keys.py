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
| P cache:q:<qhash>            | string | cache TTL               | cache (live miss)   | cache.warmup      |
| P {audit}:stream             | stream | trimmed after archiving | log_event (XADD)    | audit.trim, web   |
| P {audit}:watermark          | string | none                    | audit.trim          | audit.trim, web   |
| P file:<file_id>             | hash   | FILES_STATUS_TTL        | files.process, web  | web               |
"""

from __future__ import annotations

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
    if isinstance(raw, str) and _SAFE_ID.fullmatch(raw):
        return raw
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    return "~" + hashlib.blake2b(data, digest_size=16).hexdigest()


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


# --- cache ------------------------------------------------------------------------------------


def cache_query_text(qhash: str) -> str:
    """STRING: the normalised text (and model) of a query seen by the cache, for warmup."""
    return f"{prefix()}cache:q:{safe_id(qhash)}"


# --- audit ------------------------------------------------------------------------------------


def audit_stream() -> str:
    return f"{prefix()}{{audit}}:stream"


def audit_watermark() -> str:
    return f"{prefix()}{{audit}}:watermark"


# --- files ------------------------------------------------------------------------------------


def file_status(file_id: str) -> str:
    return f"{prefix()}file:{safe_id(file_id)}"
