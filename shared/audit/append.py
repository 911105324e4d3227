"""Append audit events: one XADD on the `{audit}` stream, redacted and bounded in-process.

An event answers who (`actor`), what (`event_type`, `details`, `result`), when (the stream id,
assigned by the Redis server clock, in milliseconds), where (`ip`) and which request
(`correlation_id`). Stream ids are unique, so two identical events never collapse into one (the
seed's sorted set did exactly that). The stream is never capped at append time: `audit.trim`
archives to SQL first and trims only what SQL has committed (`shared/audit/archive.py`).

Two ways in: `log_event()` (sync, one round trip, returns the stream id) for workers and
scripts, and `alog_event()` on the asyncio client for the web, bounded by a timeout, logging
instead of raising when Redis fails. Bulk loaders queue prepared `event_fields()` with
`queue_fields()` on their own pipeline.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from redis.exceptions import RedisError

from shared import keys
from shared.audit.redact import actor_label, clean_details, clean_text
from shared.pipeline import AnyPipeline
from shared.redis_client import AsyncRedisClient, get_redis
from shared.settings import get_settings

log = logging.getLogger(__name__)
FORMAT_VERSION = b"1"
_ID = re.compile(r"^(\d{1,20})-(\d{1,20})$")
_NAME_MAX = 128
_IP_MAX = 64


@functools.lru_cache(maxsize=4)
def _derived_key(configured: str | None, jwt_secret: str | None) -> bytes:
    if configured:
        return configured.encode()
    # A separate key from the JWT secret: the labels reveal nothing about it.
    return hashlib.sha256(b"chatbot-audit-identity\0" + (jwt_secret or "").encode()).digest()


def actor_of(actor: str) -> str:
    """The actor as the trail records it: itself, or its stable keyed label (see `actor_label`).

    Also what an actor filter is compared with, so an admin can search by the raw subject.
    """
    settings = get_settings()
    key = _derived_key(settings.audit.identity_key, settings.web.jwt_secret)
    return actor_label(actor, key=key, max_chars=_NAME_MAX)


def event_fields(
    event_type: str,
    actor: str,
    details: Mapping[str, Any] | None,
    *,
    ip: str | None = None,
    correlation_id: str | None = None,
    result: str | None = None,
) -> dict[bytes, bytes]:
    """The stream fields of one event, redacted and bounded (no Redis I/O).

    Raises:
        ValueError: `event_type` or `actor` is empty.
    """
    if not event_type or not actor:
        raise ValueError("an audit event needs an event_type and an actor")
    audit = get_settings().audit
    cleaned = clean_details(
        details or {}, max_chars=audit.text_max_chars, max_bytes=audit.details_max_bytes
    )
    fields = {
        b"v": FORMAT_VERSION,
        b"type": clean_text(event_type, _NAME_MAX).encode(),
        b"actor": actor_of(actor).encode(),
        b"details": orjson.dumps(cleaned),
    }
    if ip:
        fields[b"ip"] = clean_text(ip, _IP_MAX).encode()
    if correlation_id:
        fields[b"cid"] = clean_text(correlation_id, _NAME_MAX).encode()
    if result:
        fields[b"result"] = clean_text(result, _NAME_MAX).encode()
    return fields


def log_event(
    event_type: str,
    actor: str,
    details: dict[str, Any],
    ip: str | None = None,
    correlation_id: str | None = None,
    *,
    result: str | None = None,
) -> str:
    """Append one audit event (one XADD on `keys.audit_stream()`); returns its stream id.

    Secrets in `details` are redacted by field name and by value pattern and free text is
    truncated (AUDIT_TEXT_MAX) before anything is sent.
    """
    fields = event_fields(
        event_type, actor, details, ip=ip, correlation_id=correlation_id, result=result
    )
    stream_id = get_redis().xadd(keys.audit_stream(), fields)  # type: ignore[arg-type]
    return stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)


async def alog_event(
    client: AsyncRedisClient,
    event_type: str,
    actor: str,
    details: dict[str, Any] | None = None,
    *,
    ip: str | None = None,
    correlation_id: str | None = None,
    result: str | None = None,
    timeout_s: float = 1.0,
) -> str | None:
    """Append one event on the asyncio client (one XADD, bounded by `timeout_s`).

    For web paths where nothing else is going to Redis (a refusal already decided, an admin
    action already enqueued): an audit failure is logged at ERROR and returns None instead of
    turning the caller's answer into a 503.
    """
    fields = event_fields(
        event_type, actor, details, ip=ip, correlation_id=correlation_id, result=result
    )
    try:
        async with asyncio.timeout(timeout_s):
            stream_id = await client.xadd(keys.audit_stream(), fields)  # type: ignore[arg-type]
    except (RedisError, TimeoutError) as exc:
        log.error("audit event %s of %s not recorded: %s", event_type, actor, type(exc).__name__)
        return None
    return stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)


def queue_fields(pipe: AnyPipeline, fields: Mapping[bytes, bytes]) -> None:
    """Queue the XADD of already built `event_fields()` (bulk loaders and benchmarks)."""
    pipe.xadd(keys.audit_stream(), dict(fields))  # type: ignore[arg-type]


# --- reading ------------------------------------------------------------------------------------


def parse_id(stream_id: str) -> tuple[int, int]:
    """(milliseconds, sequence) of a stream id such as `1700000000000-3`.

    Raises:
        ValueError: not a stream id.
    """
    match = _ID.match(stream_id)
    if match is None:
        raise ValueError(f"not a stream id: {stream_id!r}")
    return int(match.group(1)), int(match.group(2))


def iso_time(ms: int) -> str:
    """ISO 8601 UTC time of an epoch in milliseconds."""
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Event:
    """One audit event as read back from the stream or the archive."""

    id: str
    ms: int
    seq: int
    event_type: str
    actor: str
    details_json: str
    ip: str | None
    correlation_id: str | None
    result: str | None

    def to_api(self, source: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "event_type": self.event_type,
            "actor": self.actor,
            "details": orjson.loads(self.details_json),
            "ip": self.ip,
            "time": iso_time(self.ms),
            "correlation_id": self.correlation_id,
            "result": self.result,
            "source": source,
            # Each region reads only its own stream and archive rows.
            "region": get_settings().regions.region,
        }


def parse_entry(stream_id: bytes | str, fields: Mapping[bytes, bytes]) -> Event:
    """An `Event` from one stream entry; a malformed entry still yields an event (never lost).

    The archive's hot loop: ids come from Redis (always `<ms>-<seq>`), so no regex here.
    """
    sid = stream_id.decode() if isinstance(stream_id, bytes) else stream_id
    ms, _, seq = sid.partition("-")
    get = fields.get
    raw = get(b"details")
    details = raw.decode("utf-8", "replace") if raw is not None else "{}"
    if get(b"v") != FORMAT_VERSION:
        # Not written by event_fields() (which always writes valid JSON): check, keep as text.
        try:
            orjson.loads(details)
        except orjson.JSONDecodeError:
            details = orjson.dumps({"_unparsed": details}).decode()
    texts = [
        None if (v := get(name)) is None else v.decode("utf-8", "replace")
        for name in (b"type", b"actor", b"ip", b"cid", b"result")
    ]
    return Event(
        sid,
        int(ms),
        int(seq),
        texts[0] or "unknown",
        texts[1] or "unknown",
        details,
        texts[2],
        texts[3],
        texts[4],
    )
