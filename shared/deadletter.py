"""Dead letters for tasks that failed for good: one capped Redis stream that operators read.

Celery drops a task that exhausted its retries after logging it; the `task_failure` signal
(workers/signals.py) calls `record` so the failure also leaves a durable, queryable trace:
task name and id, JSON arguments (truncated), exception type and message (secrets redacted),
retries used. The stream is capped (MAXLEN ~), so a poison flood cannot fill Redis.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from redis.typing import EncodableT, FieldT

from shared import keys
from shared.logconfig import redact
from shared.redis_client import RedisClient, stream_entries

MAX_ENTRIES = 10_000
MAX_FIELD_CHARS = 2_000


def _clip(text: str) -> str:
    return text if len(text) <= MAX_FIELD_CHARS else text[:MAX_FIELD_CHARS] + "…"


def _json(value: Any) -> str:
    return _clip(orjson.dumps(value, default=repr).decode())


def record(
    client: RedisClient,
    *,
    task: str,
    task_id: str,
    args: Any,
    kwargs: Any,
    error: BaseException,
    retries: int,
    now_s: float | None = None,
) -> str:
    """XADD one dead letter (one round trip, MAXLEN ~ MAX_ENTRIES); returns the entry id."""
    fields: dict[FieldT, EncodableT] = {
        "task": task,
        "task_id": task_id,
        "args": _json(args),
        "kwargs": _json(kwargs),
        "error_type": type(error).__name__,
        "error": _clip(redact(str(error))),
        "retries": str(retries),
        "failed_at": repr(time.time() if now_s is None else now_s),
    }
    entry_id = client.xadd(keys.task_dead_letter(), fields, maxlen=MAX_ENTRIES, approximate=True)
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def recent(client: RedisClient, count: int = 100) -> list[dict[str, str]]:
    """The newest `count` dead letters, newest first, each with its stream `id`."""
    entries = stream_entries(client.xrevrange(keys.task_dead_letter(), count=count))
    return [
        {"id": eid.decode(), **{k.decode(): v.decode() for k, v in fields.items()}}
        for eid, fields in entries
    ]
