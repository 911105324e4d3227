"""The chat event: its schema in the stream, the request-path append, and strict parsing.

One event is one `XADD` of a few short fields to `keys.events_stream()`, bounded with
`MAXLEN ~`. The event time is the stream id's millisecond part, so the web app sends no clock.

| field | meaning                                   | field | meaning                         |
|-------|-------------------------------------------|-------|---------------------------------|
| `v`   | schema version (`1`)                      | `pt`  | prompt tokens                   |
| `t`   | event type (`chat`, ...)                  | `ct`  | completion tokens               |
| `u`   | user id (or `ip:<addr>` when anonymous)   | `lat` | latency, milliseconds           |
| `s`   | session id (optional)                     | `hit` | cache `1` hit, `0` miss, empty  |
| `m`   | model                                     | `err` | error code, empty when none     |
| `q`   | query_hash(normalize_query(message))      |       |                                 |
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, TypeAlias

from redis.asyncio.client import Pipeline as AsyncPipeline
from redis.exceptions import RedisError

from shared import keys
from shared.normalize import normalize_query, query_hash
from shared.pipeline import AnyPipeline
from shared.redis_client import AsyncRedisClient
from shared.settings import get_settings

log = logging.getLogger(__name__)
EitherPipeline: TypeAlias = "AnyPipeline | AsyncPipeline[Any]"
SCHEMA_VERSION = b"1"
_TYPE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MODEL = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_QHASH = re.compile(r"[0-9a-f]{32}")
MAX_TOKENS = 10_000_000
MAX_LATENCY_MS = 3_600_000.0


class EventError(ValueError):
    """A malformed event; the message is the dead-letter reason (`code: detail`)."""


@dataclass(frozen=True, slots=True)
class Event:
    ts_ms: int
    type: str
    user: str
    session: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    cache_hit: bool | None
    error: str
    qhash: str


def event_fields(
    *,
    user_id: str,
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    latency_ms: float,
    cache_hit: bool | None = None,
    error: str | None = None,
    message: str | None = None,
    qhash: str | None = None,
    session_id: str | None = None,
    type_: str = "chat",
) -> dict[str, str | int | float]:
    """The stream fields of one event; `qhash` defaults to the hash of the normalised message."""
    if qhash is None and message is not None:
        qhash = query_hash(normalize_query(message))
    return {
        "v": "1",
        "t": type_,
        "u": user_id,
        "s": session_id or "",
        "m": model,
        "pt": int(prompt_tokens),
        "ct": int(completion_tokens),
        "lat": round(float(latency_ms), 3),
        "hit": "" if cache_hit is None else ("1" if cache_hit else "0"),
        "err": error or "",
        "q": qhash or "",
    }


def queue_event(pipe: EitherPipeline, **fields: Any) -> None:
    """Queue the XADD of one chat event on `pipe` (the caller executes; one command).

    Takes the keyword arguments of `event_fields`. Redis side effect: XADD to
    `keys.events_stream()` with `MAXLEN ~ ANALYTICS_EVENTS_MAXLEN`.
    """
    maxlen = get_settings().analytics.events_maxlen
    pipe.xadd(keys.events_stream(), event_fields(**fields), maxlen=maxlen, approximate=True)  # type: ignore[arg-type]


def _text(fields: dict[bytes, bytes], name: bytes, *, required: bool = True) -> str:
    raw = fields.get(name)
    if raw is None:
        if required:
            raise EventError(f"missing: field {name.decode()}")
        return ""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise EventError(f"encoding: field {name.decode()} is not UTF-8") from None


def _int(fields: dict[bytes, bytes], name: bytes, upper: int) -> int:
    try:
        value = int(fields.get(name, b""))
    except ValueError:
        raise EventError(f"type: field {name.decode()} is not an integer") from None
    if not 0 <= value <= upper:
        raise EventError(f"range: field {name.decode()}={value}")
    return value


def parse(entry_id: bytes, fields: dict[bytes, bytes], *, max_bytes: int) -> Event:
    """Validate one stream entry; raises `EventError` whose message is the dead-letter reason."""
    size = sum(len(k) + len(v) for k, v in fields.items())
    if size > max_bytes:
        raise EventError(f"oversized: {size} bytes > {max_bytes}")
    if fields.get(b"v") != SCHEMA_VERSION:
        raise EventError(f"version: unsupported {fields.get(b'v')!r}")
    type_ = _text(fields, b"t")
    if not _TYPE.fullmatch(type_):
        raise EventError("invalid: field t")
    user = _text(fields, b"u")
    if not 0 < len(user) <= 256:
        raise EventError("invalid: field u")
    model = _text(fields, b"m")
    if not _MODEL.fullmatch(model):
        raise EventError("invalid: field m")
    try:
        latency_ms = float(fields.get(b"lat", b""))
    except ValueError:
        raise EventError("type: field lat is not a number") from None
    if not 0.0 <= latency_ms <= MAX_LATENCY_MS:  # also rejects NaN
        raise EventError(f"range: field lat={latency_ms}")
    hit = fields.get(b"hit", b"")
    if hit not in (b"", b"0", b"1"):
        raise EventError("invalid: field hit")
    qhash = _text(fields, b"q", required=False)
    if qhash and not _QHASH.fullmatch(qhash):
        raise EventError("invalid: field q")
    error = _text(fields, b"err", required=False)
    if len(error) > 64:
        raise EventError("invalid: field err")
    return Event(
        ts_ms=int(entry_id.split(b"-", 1)[0]),
        type=type_,
        user=user,
        session=_text(fields, b"s", required=False)[:128],
        model=model,
        prompt_tokens=_int(fields, b"pt", MAX_TOKENS),
        completion_tokens=_int(fields, b"ct", MAX_TOKENS),
        latency_ms=latency_ms,
        cache_hit=None if hit == b"" else hit == b"1",
        error=error,
        qhash=qhash,
    )


async def append_event(client: AsyncRedisClient, **fields: Any) -> bool:
    """Append one event from the web (one round trip); a Redis failure is logged, not raised.

    Analytics must never fail a chat that already succeeded; a lost event shows up as a gap in
    the counters, not as an error for the user. Returns whether the event was stored.
    """
    try:
        async with client.pipeline(transaction=False) as pipe:
            queue_event(pipe, **fields)
            await pipe.execute()
    except RedisError as exc:
        log.warning("analytics event dropped: %s", type(exc).__name__)
        return False
    return True
