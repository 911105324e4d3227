"""What is cached and under which key: the key derivation, the JSON envelope, and the verdict.

A key is derived from the normalised question (`shared.normalize`), the model, the request
parameters, the prompt-template version and the scope (global, or one user). The envelope is
orjson: the response, model, created_at, soft TTL, source (`warmup` | `live`), token counts,
and for per-user entries the user id, which is checked on every read.
"""

from __future__ import annotations

import functools
import hashlib
import random
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from shared import keys
from shared.cache import codec
from shared.normalize import normalize_query, query_hash
from shared.settings.cache import CacheSettings

Source = Literal["warmup", "live"]
Status = Literal["hit", "stale", "miss"]


@dataclass(frozen=True)
class CacheKey:
    """Where one answer lives. `user_id` None is the global scope."""

    normalized: str
    model: str
    template_version: str
    params: tuple[tuple[str, Any], ...] = ()
    user_id: str | None = None

    @classmethod
    def build(
        cls,
        message: str,
        model: str,
        *,
        template_version: str,
        params: dict[str, Any] | None = None,
        user_id: str | None = None,
    ) -> CacheKey:
        items = tuple(sorted((params or {}).items()))
        return cls(normalize_query(message), model, template_version, items, user_id)

    # Derived once per key object (the web reuses one per question: `web.chat_cache`).
    @functools.cached_property
    def qhash(self) -> str:
        """The popularity member of the question (same definition as analytics)."""
        return query_hash(self.normalized)

    @functools.cached_property
    def khash(self) -> str:
        material = orjson.dumps(
            [self.normalized, self.model, self.template_version, [list(p) for p in self.params]]
        )
        return hashlib.blake2b(material, digest_size=16).hexdigest()

    @functools.cached_property
    def entry(self) -> str:
        return keys.cache_entry(self.khash, self.user_id)

    @property
    def generation(self) -> str | None:
        return None if self.user_id is None else keys.cache_user_generation(self.user_id)

    def read_keys(self) -> list[str]:
        """Keys of the one lookup round trip: the entry, then the generation (same slot)."""
        return [self.entry] if self.generation is None else [self.entry, self.generation]


def stored_user_id(user_id: str | None) -> str | None:
    """The user id as the envelope keeps it: itself, or its digest when not valid UTF-8."""
    if user_id is None:
        return None
    try:
        user_id.encode("utf-8")
    except UnicodeEncodeError:
        return keys.safe_id(user_id)
    return user_id


@dataclass(frozen=True)
class Envelope:
    response: str
    model: str
    created_at: float
    soft_ttl_s: float
    source: Source
    prompt_tokens: int
    completion_tokens: int
    user_id: str | None = None
    tags: tuple[str, ...] = field(default=())

    def is_stale(self, now: float) -> bool:
        return now >= self.created_at + self.soft_ttl_s

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "response": self.response,
                "model": self.model,
                "created_at": self.created_at,
                "soft_ttl_s": self.soft_ttl_s,
                "source": self.source,
                "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
                "user_id": stored_user_id(self.user_id),
                "tags": list(self.tags),
            }
        )

    @classmethod
    def from_json(cls, body: bytes) -> Envelope | None:
        try:
            d = orjson.loads(body)
            tokens = d["tokens"]
            return cls(
                str(d["response"]),
                str(d["model"]),
                float(d["created_at"]),
                float(d["soft_ttl_s"]),
                "warmup" if d["source"] == "warmup" else "live",
                int(tokens["prompt"]),
                int(tokens["completion"]),
                d.get("user_id"),
                tuple(d.get("tags") or ()),
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            return None


@dataclass(frozen=True)
class Verdict:
    status: Status
    envelope: Envelope | None = None


def jittered(ttl_s: float, ratio: float, rng: random.Random | None = None) -> float:
    """`ttl_s` scaled by a uniform factor in [1 - ratio, 1 + ratio]."""
    return ttl_s * (1 + (rng or random).uniform(-ratio, ratio))


def encode(envelope: Envelope, *, gen: int, settings: CacheSettings) -> bytes:
    return codec.pack(
        envelope.to_json(), gen=gen, codec=settings.codec, min_bytes=settings.compress_min_bytes
    )


def judge(key: CacheKey, replies: list[bytes | None], now: float) -> Verdict:
    """Turn the lookup replies (`key.read_keys()` order) into hit, stale or miss.

    A per-user entry counts only when its generation is the user's current one and its
    envelope names the same user; anything unreadable is a miss (and is overwritten).
    """
    raw = replies[0]
    if raw is None:
        return Verdict("miss")
    frame = codec.unpack(raw)
    if frame is None:
        return Verdict("miss")
    if key.user_id is not None:
        current = int(replies[1] or 0) if len(replies) > 1 else 0
        if frame.gen != current:
            return Verdict("miss")
    envelope = Envelope.from_json(frame.body)
    if envelope is None or envelope.user_id != stored_user_id(key.user_id):
        return Verdict("miss")
    return Verdict("stale" if envelope.is_stale(now) else "hit", envelope)
