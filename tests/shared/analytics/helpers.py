"""Builders shared by the analytics tests: events with explicit times, and a pure recount."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

import redis

from shared import keys
from shared.analytics.events import event_fields
from shared.models_catalog import model_label


@dataclass(frozen=True)
class Ev:
    ts_ms: int
    user: str
    model: str
    prompt_tokens: int = 3
    completion_tokens: int = 5
    latency_ms: float = 100.0
    cache_hit: bool | None = None
    error: str | None = None
    message: str | None = None
    session: str | None = None


def add_events(r: redis.Redis, events: list[Ev], stream: str | None = None) -> list[bytes]:
    """XADD each event with the id `<ts_ms>-<seq>` (events must be in time order)."""
    stream = stream or keys.events_stream()
    with r.pipeline(transaction=False) as pipe:
        for seq, ev in enumerate(events):
            fields = event_fields(
                user_id=ev.user,
                model=ev.model,
                prompt_tokens=ev.prompt_tokens,
                completion_tokens=ev.completion_tokens,
                latency_ms=ev.latency_ms,
                cache_hit=ev.cache_hit,
                error=ev.error,
                message=ev.message,
                session_id=ev.session,
            )
            pipe.xadd(stream, fields, id=f"{ev.ts_ms}-{seq + 1}")  # type: ignore[arg-type]
        return list(pipe.execute())


def nearest_rank(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]


def recount(events: list[Ev]) -> dict[str, Any]:
    """What every aggregate must equal, computed naively (per model label: known, or other)."""
    by_model = Counter(model_label(e.model) for e in events)
    tokens: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for e in events:
        tokens[model_label(e.model)][0] += e.prompt_tokens
        tokens[model_label(e.model)][1] += e.completion_tokens
    lookups = [e for e in events if e.cache_hit is not None]
    return {
        "messages_total": len(events),
        "by_model": dict(by_model),
        "tokens": {m: tuple(t) for m, t in tokens.items()},
        "errors": sum(1 for e in events if e.error),
        "cache_lookups": len(lookups),
        "cache_hits": sum(1 for e in lookups if e.cache_hit),
        "users": {e.user for e in events},
        "per_user": Counter(e.user for e in events),
        "per_minute": Counter(e.ts_ms // 60_000 * 60 for e in events),
        "per_hour": Counter(e.ts_ms // 3_600_000 * 3600 for e in events),
        # the stream keeps latencies to the microsecond (3 decimals of a ms)
        "latencies": {
            m: [round(e.latency_ms, 3) for e in events if model_label(e.model) == m]
            for m in by_model
        },
    }
