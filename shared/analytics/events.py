"""The chat event: its schema in the stream, the request-path append, and strict parsing.

One event is one `XADD` to `keys.events_stream()`, bounded with `MAXLEN ~`, holding a single
field `e`: a compact JSON object. One field instead of eleven halves the cost of writing and of
reading the stream (redis-py builds one small dict per entry, orjson parses the rest in C). The
event time is the stream id's millisecond part, so the web app sends no clock.

| key   | meaning                                   | key   | meaning                          |
|-------|-------------------------------------------|-------|----------------------------------|
| `v`   | schema version (1)                        | `pt`  | prompt tokens (int)              |
| `t`   | event type (`chat`, ...)                  | `ct`  | completion tokens (int)          |
| `u`   | user id (or `ip:<addr>` when anonymous)   | `lat` | latency, milliseconds (number)   |
| `s`   | session id (optional)                     | `hit` | cache hit true/false, null: none |
| `m`   | model                                     | `err` | error code, empty when none      |
| `q`   | query_hash(normalize_query(message))      |       |                                  |
"""

from __future__ import annotations

import logging
import re
from typing import Any, NamedTuple, TypeAlias

import orjson
from redis.asyncio.client import Pipeline as AsyncPipeline

from shared import keys
from shared.normalize import normalize_query, query_hash
from shared.pipeline import AnyPipeline
from shared.settings import get_settings

log = logging.getLogger(__name__)
EitherPipeline: TypeAlias = "AnyPipeline | AsyncPipeline"
_TYPE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_MODEL = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_QHASH = re.compile(r"[0-9a-f]{32}")
_HEX = "0123456789abcdef"
MAX_TOKENS = 10_000_000
MAX_LATENCY_MS = 3_600_000.0


class EventError(ValueError):
    """A malformed event; the message is the dead-letter reason (`code: detail`)."""


class Event(NamedTuple):
    """One validated chat event. A tuple so the rollup's hot loop can unpack it in one step."""

    ts_ms: int  # the stream id's milliseconds: when Redis received the event
    type: str
    user: str
    session: str  # "" when the web sent none
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    cache_hit: bool | None  # None: the answer did not go through the cache
    error: str  # "" when the chat succeeded
    qhash: str  # "" when the web sent no query hash


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
) -> dict[str, bytes]:
    """The stream fields of one event; `qhash` defaults to the hash of the normalised message."""
    if qhash is None and message is not None:
        qhash = query_hash(normalize_query(message))
    body = {
        "v": 1,
        "t": type_,
        "u": user_id,
        "s": session_id or "",
        "m": model,
        "pt": int(prompt_tokens),
        "ct": int(completion_tokens),
        "lat": round(float(latency_ms), 3),
        "hit": cache_hit,
        "err": error or "",
        "q": qhash or "",
    }
    return {"e": orjson.dumps(body)}


def queue_event(pipe: EitherPipeline, **fields: Any) -> None:
    """Queue the XADD of one chat event on `pipe` (the caller executes; one command).

    Takes the keyword arguments of `event_fields`. Redis side effect: XADD to
    `keys.events_stream()` with `MAXLEN ~ ANALYTICS_EVENTS_MAXLEN`.
    """
    maxlen = get_settings().analytics.events_maxlen
    pipe.xadd(keys.events_stream(), event_fields(**fields), maxlen=maxlen, approximate=True)  # type: ignore[arg-type]


# Values already validated, so the hot loop pays one set lookup instead of a regex per event.
_KNOWN_TYPES: set[str] = set()
_KNOWN_MODELS: set[str] = set()
_KNOWN_CACHE_MAX = 4096
# `Event(...)` runs a Python-level __new__ costing several times this C call per event.
_new_event = tuple.__new__


def _known(value: object, known: set[str], pattern: re.Pattern[str], name: str) -> str:
    # Type first: a JSON list or object is unhashable, and a TypeError here would escape the
    # rollup's dead-letter handling and fail the whole batch on every retry.
    if not isinstance(value, str):
        raise EventError(f"invalid: field {name}")
    if value in known:
        return value
    if not pattern.fullmatch(value):
        raise EventError(f"invalid: field {name}")
    if len(known) < _KNOWN_CACHE_MAX:
        known.add(value)
    return value


def _count(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if type(value) is not int:
        raise EventError(f"type: field {name} is not an integer")
    if not 0 <= value <= MAX_TOKENS:
        raise EventError(f"range: field {name}={value}")
    return value


def _text(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > limit or (required and not value):
        raise EventError(f"invalid: field {name}")
    return value


def parse(entry_id: bytes, fields: dict[bytes, bytes], max_bytes: int) -> Event:
    """Validate one stream entry into an `Event` (the rollup's hot path, a few µs per event).

    One inline check accepts a well-formed event whose type and model were seen before; anything
    else takes `_checked_parse`, which names what is wrong. The two agree on every input
    (a property test holds them equal). Raises `EventError`: the dead-letter reason.
    """
    raw = fields.get(b"e")
    if raw is None or len(raw) > max_bytes or len(fields) != 1:
        return _checked_parse(entry_id, fields, max_bytes)
    try:
        body = orjson.loads(raw)
        type_, user, session, model = body["t"], body["u"], body.get("s", ""), body["m"]
        prompt, completion, latency = body["pt"], body["ct"], body["lat"]
        hit, error, qhash = body.get("hit"), body.get("err", ""), body.get("q", "")
        ok = (
            body["v"] == 1
            and type_ in _KNOWN_TYPES
            and model in _KNOWN_MODELS
            and type(user) is str
            and 0 < len(user) <= 256
            and type(session) is str
            and len(session) <= 128
            and type(prompt) is int
            and 0 <= prompt <= MAX_TOKENS
            and type(completion) is int
            and 0 <= completion <= MAX_TOKENS
            and type(latency) in (int, float)
            and 0 <= latency <= MAX_LATENCY_MS
            and (hit is None or hit is True or hit is False)
            and type(error) is str
            and len(error) <= 64
            and type(qhash) is str
            and (not qhash or (len(qhash) == 32 and not qhash.strip(_HEX)))
        )
    except (orjson.JSONDecodeError, KeyError, TypeError):
        ok = False
    if not ok:
        # A first sighting of a model or type, or a malformed event (the checked path says why).
        return _checked_parse(entry_id, fields, max_bytes)
    return _new_event(  # type: ignore[no-any-return]
        Event,
        (
            int(entry_id.partition(b"-")[0]),
            type_,
            user,
            session,
            model,
            prompt,
            completion,
            float(latency),
            hit,
            error,
            qhash,
        ),
    )


def _checked_parse(entry_id: bytes, fields: dict[bytes, bytes], max_bytes: int) -> Event:
    """`parse` one check at a time, naming the first failure; registers new types and models."""
    raw = fields.get(b"e")
    if raw is None:
        raise EventError("missing: field e")
    if len(raw) > max_bytes or len(fields) > 1:
        raise EventError(f"oversized: {len(raw)} bytes, {len(fields)} fields")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise EventError("json: not a JSON document") from None
    if type(body) is not dict:
        raise EventError("json: not an object")
    if body.get("v") != 1:
        raise EventError(f"version: unsupported {body.get('v')!r}")
    latency_ms: Any = body.get("lat")
    if type(latency_ms) not in (int, float):
        raise EventError("type: field lat is not a number")
    if not 0.0 <= latency_ms <= MAX_LATENCY_MS:
        raise EventError(f"range: field lat={latency_ms}")
    hit = body.get("hit")
    if hit is not None and type(hit) is not bool:
        raise EventError("invalid: field hit")
    qhash = _text(body, "q", 32)
    if qhash and not _QHASH.fullmatch(qhash):
        raise EventError("invalid: field q")
    return Event(
        int(entry_id.split(b"-", 1)[0]),
        _known(body.get("t"), _KNOWN_TYPES, _TYPE, "t"),
        _text(body, "u", 256, required=True),
        _text(body, "s", 128),
        _known(body.get("m"), _KNOWN_MODELS, _MODEL, "m"),
        _count(body, "pt"),
        _count(body, "ct"),
        float(latency_ms),
        hit,
        _text(body, "err", 64),
        qhash,
    )
