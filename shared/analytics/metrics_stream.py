"""The metrics stream: `publish_metric` appends a sample, `get_realtime_metrics` reads a window.

Each sample is one XADD to `keys.metrics_stream()` (bounded, `MAXLEN ~`) with fields `n`
(name), `v` (value) and `tags` (JSON object of strings). The rollup folds samples into the
same time buckets as the chat events (`metric:<name>` series: the mean per bucket).
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import orjson

from shared import keys
from shared.pipeline import AnyPipeline
from shared.redis_client import RedisClient, stream_entries
from shared.settings import get_settings

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")
MAX_TAGS = 16
MAX_READ = 10_000


@dataclass(frozen=True)
class MetricSample:
    id: str
    ts_ms: int
    name: str
    value: float
    tags: dict[str, str]


def _check(name: str, value: float, tags: dict[str, str] | None) -> dict[str, str]:
    if not _NAME.fullmatch(name):
        raise ValueError(f"metric name must match {_NAME.pattern}, got {name!r}")
    if not math.isfinite(value):
        raise ValueError(f"metric value must be finite, got {value!r}")
    tags = dict(tags or {})
    if len(tags) > MAX_TAGS or not all(
        isinstance(k, str) and isinstance(v, str) and len(k) <= 64 and len(v) <= 128
        for k, v in tags.items()
    ):
        raise ValueError(f"tags: at most {MAX_TAGS} string pairs (keys <= 64, values <= 128)")
    return tags


def queue_metric(
    pipe: AnyPipeline, name: str, value: float, tags: dict[str, str] | None = None
) -> None:
    """Queue the XADD of one sample (MAXLEN ~ ANALYTICS_METRICS_MAXLEN); raises ValueError."""
    clean = _check(name, float(value), tags)
    pipe.xadd(
        keys.metrics_stream(),
        {"n": name, "v": repr(float(value)), "tags": orjson.dumps(clean)},
        maxlen=get_settings().analytics.metrics_maxlen,
        approximate=True,
    )


def publish_metric(
    client: RedisClient, name: str, value: float, tags: dict[str, str] | None = None
) -> str:
    """Append one sample now (one round trip); returns its stream id."""
    with client.pipeline(transaction=False) as pipe:
        queue_metric(pipe, name, value, tags)
        (entry_id,) = pipe.execute()
    return str(entry_id.decode() if isinstance(entry_id, bytes) else entry_id)


def parse_sample(entry_id: bytes, fields: dict[bytes, bytes]) -> MetricSample:
    """Validate one metrics-stream entry; raises ValueError (the dead-letter reason)."""
    try:
        name = fields[b"n"].decode()
        value = float(fields[b"v"])
        tags = orjson.loads(fields.get(b"tags", b"{}"))
    except (KeyError, ValueError, UnicodeDecodeError, orjson.JSONDecodeError) as exc:
        raise ValueError(f"invalid: metric entry ({type(exc).__name__})") from None
    if not isinstance(tags, dict):
        raise ValueError("invalid: metric tags")
    _check(name, value, tags)
    ts_ms = int(entry_id.split(b"-", 1)[0])
    return MetricSample(entry_id.decode(), ts_ms, name, value, tags)


def get_realtime_metrics(
    client: RedisClient, window_s: float, *, now: float | None = None, limit: int = MAX_READ
) -> list[MetricSample]:
    """Samples of the last `window_s` seconds, oldest first (one XRANGE, at most `limit`).

    The start is the stream id `<(now - window) in ms>-0`; malformed entries are skipped here
    (the rollup dead-letters them).
    """
    now = time.time() if now is None else now
    start = f"{max(0, int((now - window_s) * 1000))}-0"
    rows = stream_entries(client.xrange(keys.metrics_stream(), min=start, max="+", count=limit))
    found = []
    for entry_id, fields in rows:
        try:
            found.append(parse_sample(entry_id, fields))
        except ValueError:
            continue
    return found
