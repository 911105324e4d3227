"""Audit checks for the health snapshot: last chain verification, and whether logging stopped."""

from __future__ import annotations

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from shared import keys
from shared.audit.append import parse_id
from shared.audit.query import archive_counts
from shared.audit.verify import last_verification
from shared.db import get_engine
from shared.health import FAIL, PASS, WARN, Check
from shared.models.audit import ensure_tables
from shared.redis_client import RedisClient
from shared.settings import Settings


def check_verification(settings: Settings, now: float) -> Check:
    """Age of the last `audit.verify` run; fail when it found a broken link, warn when stale."""
    key = "audit:lastVerification"
    try:
        engine = ensure_tables(get_engine())
        last = last_verification(engine)
        archived = archive_counts(engine)["archived"] if last is None else None
    except SQLAlchemyError as exc:
        return Check(key, None, "s", FAIL, type(exc).__name__)
    if last is None:
        if not archived:
            return Check(key, None, "s", PASS, "nothing archived yet")
        return Check(key, None, "s", WARN, f"{archived} archived rows never verified")
    age_s = round(max(0.0, now - float(last["verified_at"])), 3)
    if not last["verified_ok"]:
        return Check(
            key, age_s, "s", FAIL, f"broken at {last['broken_id']}: {last['broken_reason']}"
        )
    stale = age_s > 2 * settings.schedule.audit_verify_interval_s
    output = f"{last['verified_rows']} rows verified" + (" (stale)" if stale else "")
    return Check(key, age_s, "s", WARN if stale else PASS, output)


def check_newest_event(client: RedisClient, settings: Settings, now: float) -> list[Check]:
    """Age of the newest audit event (stream id time) and the entries held in Redis."""
    key = "audit:newestEventAge"
    try:
        with client.pipeline(transaction=False) as pipe:
            pipe.xrevrange(keys.audit_stream(), count=1)
            pipe.xlen(keys.audit_stream())
            newest, length = pipe.execute()
    except RedisError as exc:
        return [Check(key, None, "s", FAIL, type(exc).__name__)]
    in_redis = Check("audit:eventsInRedis", int(length), "events", PASS)
    if not newest:
        # AUDIT_MAX_EVENTS >= 1 keeps the newest event in Redis: an empty stream after archiving
        # means the tail was lost (flush, failover without persistence).
        try:
            archived_before = client.exists(keys.audit_watermark())
        except RedisError as exc:
            return [Check(key, None, "s", FAIL, type(exc).__name__), in_redis]
        if archived_before:
            return [Check(key, None, "s", WARN, "audit stream empty: tail lost?"), in_redis]
        return [Check(key, None, "s", PASS, "no audit event yet"), in_redis]
    sid = newest[0][0]
    ms, _ = parse_id(sid.decode() if isinstance(sid, bytes) else str(sid))
    age_s = round(max(0.0, now - ms / 1000), 3)
    if age_s > settings.audit.stale_warn_s:
        return [Check(key, age_s, "s", WARN, "logging stopped: no recent audit event"), in_redis]
    return [Check(key, age_s, "s", PASS), in_redis]


def check(client: RedisClient, settings: Settings, now: float) -> list[Check]:
    """Every audit check (a `shared.health.DomainCheck`)."""
    return [check_verification(settings, now), *check_newest_event(client, settings, now)]
