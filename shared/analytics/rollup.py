"""The rollup: consume the event and metrics streams with a consumer group, exactly once.

Per batch: XREADGROUP (or XAUTOCLAIM for entries stuck with a dead consumer), aggregate in
Python (`aggregate`), then ONE MULTI/EXEC holding every counter update, the dead-letter XADDs
and the XACK of the whole batch. A crash anywhere before EXEC leaves the batch pending and the
counters untouched (Redis discards an unfinished MULTI); after EXEC both are done. The batch is
reclaimed by the next run with XAUTOCLAIM, so nothing is lost or counted twice. All keys share
the `{an}` hash tag, so the transaction stays in one cluster slot.

Only one consumer runs at a time (the task's run-lock), which is what makes reclaiming entries
idle for ANALYTICS_CLAIM_IDLE safe: their consumer is gone, not slow.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from redis.exceptions import ResponseError

from shared import keys
from shared.analytics import aggregate, popularity
from shared.analytics.metrics_stream import parse_sample
from shared.lua import script
from shared.pipeline import AnyPipeline
from shared.redis_client import RedisClient, group_entries, is_cluster
from shared.settings.analytics import AnalyticsSettings

log = logging.getLogger(__name__)
GROUP = "rollup"
Entry = tuple[bytes, dict[bytes, bytes]]
Fold = Callable[[aggregate.Batch, list[Entry]], None]


@dataclass
class RollupReport:
    events: int = 0
    metrics: int = 0
    dead: int = 0
    reclaimed: int = 0
    batches: int = 0
    expired: int = 0
    streams: dict[str, int] = field(default_factory=dict)


def consumer_name() -> str:
    """This process's consumer name: a restarted worker is a new consumer."""
    return f"{socket.gethostname()}:{os.getpid()}"


def ensure_group(client: RedisClient, stream: str) -> None:
    """Create the consumer group (from the stream's beginning) unless it exists."""
    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def fold_events(batch: aggregate.Batch, entries: list[Entry]) -> None:
    batch.add_events(entries)


def fold_metrics(batch: aggregate.Batch, entries: list[Entry]) -> None:
    for entry_id, fields in entries:
        try:
            sample = parse_sample(entry_id, fields)
        except ValueError as exc:
            batch.add_dead(entry_id, str(exc), fields)
            continue
        batch.add_metric(sample.ts_ms, sample.name, sample.value)


def _dead_record(raw: dict[bytes, bytes]) -> bytes:
    """The offending entry as bounded JSON (each value cut to 256 bytes), for operators."""
    body = {
        k.decode("utf-8", "replace"): v[:256].decode("utf-8", "replace") for k, v in raw.items()
    }
    return orjson.dumps(body)[:2048]


def _pairs(values: Mapping[str, float]) -> list[str | float]:
    flat: list[str | float] = []
    for name, n in values.items():
        flat += (name, n)
    return flat


IncrQueuer = Callable[[AnyPipeline, str, str, Mapping[str, float]], None]


def _incr_queuer(client: RedisClient) -> IncrQueuer:
    """How to queue many increments of one hash or zset inside the transaction.

    Standalone: one `analytics_hincr` script call per key (thousands of fields, one command).
    Redis Cluster: redis-py's cluster pipeline cannot carry EVALSHA, so one command per field;
    still one MULTI/EXEC, since every key shares the `{an}` slot.
    """
    if not is_cluster(client):
        hincr = script(client, "analytics_hincr")

        def by_script(pipe: AnyPipeline, key: str, mode: str, values: Mapping[str, float]) -> None:
            hincr(keys=[key], args=[mode, *_pairs(values)], client=pipe)

        return by_script

    def by_command(pipe: AnyPipeline, key: str, mode: str, values: Mapping[str, float]) -> None:
        for name, n in values.items():
            if mode == "zset":
                pipe.zincrby(key, n, name)
            elif mode == "float":
                pipe.hincrbyfloat(key, name, n)
            else:
                pipe.hincrby(key, name, int(n))

    return by_command


def apply(
    client: RedisClient, stream: str, delta: aggregate.Delta, settings: AnalyticsSettings
) -> None:
    """Apply `delta` and XACK its batch in ONE MULTI/EXEC (every key in the `{an}` slot)."""
    queue_incr = _incr_queuer(client)
    with client.pipeline(transaction=True) as pipe:
        for key, counts in delta.hincr.items():
            queue_incr(pipe, key, "int", counts)
        for key, sums in delta.hincr_float.items():
            queue_incr(pipe, key, "float", sums)
        for key, members in delta.hll.items():
            pipe.pfadd(key, *members)
        for key, at_s in delta.expire_at.items():
            pipe.expireat(key, at_s)
        if delta.closing:
            pipe.zadd(keys.analytics_closing(), delta.closing)  # type: ignore[arg-type]
        if delta.popularity:
            queue_incr(pipe, keys.popularity(), "zset", delta.popularity)
        for entry_id, reason, raw in delta.dead:
            pipe.xadd(
                keys.events_dead_letter(),
                {
                    "stream": stream,
                    "id": entry_id,
                    "reason": reason,
                    "raw": _dead_record(raw),
                },
                maxlen=settings.dead_letter_maxlen,
                approximate=True,
            )
        if delta.ack_ids:
            pipe.xack(stream, GROUP, *delta.ack_ids)
        pipe.execute()


def process_batch(
    client: RedisClient,
    stream: str,
    entries: list[Entry],
    fold: Fold,
    *,
    now_s: float,
    settings: AnalyticsSettings,
    report: RollupReport,
) -> None:
    """Aggregate `entries` and commit them (counters + acks) in one transaction."""
    batch = aggregate.Batch(now_s, settings)
    fold(batch, entries)
    delta = batch.finish()
    delta.ack_ids = [entry[0] for entry in entries]
    apply(client, stream, delta, settings)
    report.batches += 1
    report.events += delta.events
    report.metrics += delta.metrics
    report.dead += len(delta.dead)
    report.expired += delta.expired


def _reclaim(
    client: RedisClient,
    stream: str,
    consumer: str,
    fold: Fold,
    *,
    now_s: float,
    s: AnalyticsSettings,
    report: RollupReport,
) -> None:
    cursor: Any = "0-0"
    while True:
        reply = client.xautoclaim(
            stream, GROUP, consumer, int(s.claim_idle_s * 1000), start_id=cursor, count=s.batch_size
        )
        cursor, entries = reply[0], [e for e in reply[1] if e[1] is not None]
        if entries:
            report.reclaimed += len(entries)
            process_batch(client, stream, entries, fold, now_s=now_s, settings=s, report=report)
        if cursor in (b"0-0", "0-0"):
            return


def consume(
    client: RedisClient,
    stream: str,
    fold: Fold,
    settings: AnalyticsSettings,
    *,
    consumer: str,
    now: Callable[[], float] = time.time,
    report: RollupReport | None = None,
    budget_s: float | None = None,
) -> RollupReport:
    """Reclaim stuck entries, then read new ones in batches.

    Stops after ANALYTICS_MAX_BATCHES_PER_RUN batches or once `budget_s` seconds have passed,
    so a run finishes well inside its time limit; the next tick continues where it stopped.
    """
    report = report or RollupReport()
    stop_at = time.monotonic() + budget_s if budget_s is not None else None
    ensure_group(client, stream)
    before = report.batches
    _reclaim(client, stream, consumer, fold, now_s=now(), s=settings, report=report)
    for _ in range(settings.max_batches):
        if stop_at is not None and time.monotonic() > stop_at:
            break
        reply = client.xreadgroup(GROUP, consumer, {stream: ">"}, count=settings.batch_size)
        entries = group_entries(reply)
        if not entries:
            break
        process_batch(client, stream, entries, fold, now_s=now(), settings=settings, report=report)
    report.streams[stream] = report.batches - before
    return report


def run(
    client: RedisClient,
    settings: AnalyticsSettings,
    *,
    consumer: str | None = None,
    now: Callable[[], float] = time.time,
    budget_s: float | None = None,
) -> RollupReport:
    """One rollup pass over both streams: decay popularity, then consume events and metrics.

    `budget_s` bounds the reading of new batches per stream (see `consume`).
    """
    consumer = consumer or consumer_name()
    popularity.decay(client, settings, int(now() * 1_000_000))
    report = consume(
        client,
        keys.events_stream(),
        fold_events,
        settings,
        consumer=consumer,
        now=now,
        budget_s=budget_s,
    )
    consume(
        client,
        keys.metrics_stream(),
        fold_metrics,
        settings,
        consumer=consumer,
        now=now,
        report=report,
    )
    return report
