"""Which model names may be counted by name: KNOWN_MODELS; every other name counts as `other`.

A chat request's `model` is chosen by the client. Each distinct name that became a metric label,
an analytics hash field or a rate-limit bucket would be one more series or key for good (300
made-up names once took /metrics from 143 to 1,943 lines), so every place that counts by model
passes the name through `model_label` first. The responder still receives the name as sent.

Cache keys keep the real name: it is hashed into the key with the question, so a key never
serves one model's answer for another's, and the number of entries is bounded by their TTL and
the cache's memory, not by how many names exist.
"""

from __future__ import annotations

from collections.abc import Collection

from shared.settings import get_settings

OTHER = "other"


def model_label(name: str, known: Collection[str] | None = None) -> str:
    """`name` when it is a known model (`known`, default KNOWN_MODELS), else `other`."""
    if known is None:
        known = get_settings().analytics.known_models
    return name if name in known else OTHER
