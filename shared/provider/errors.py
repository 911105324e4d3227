"""What a provider failure means to our callers: one exception with a kind, a status and a wait.

The web maps it to a JSON error with `status` (and `Retry-After` when `retry_after_s` is set);
a stream that already started ends with `{"error": {"type": kind, "message": ...}}` instead.
"""

from __future__ import annotations

import email.utils
import math
import time
from typing import Literal

Kind = Literal[
    "rate_limited",  # the provider said 429
    "timeout",  # no answer (or no next chunk) within OPENAI_TIMEOUT
    "upstream",  # 5xx, or the provider could not be reached
    "malformed",  # a body or stream chunk that is not a chat completion
    "rejected",  # another 4xx (bad key, unknown model): our configuration, not the load
    "circuit_open",  # too many consecutive failures: not called at all for a cool-down
    "saturated",  # this process already has OPENAI_MAX_CONCURRENCY calls out: load shed
    "model_not_allowed",  # not in OPENAI_MODELS
]
STATUS: dict[Kind, int] = {
    "rate_limited": 503,
    "timeout": 504,
    "upstream": 502,
    "malformed": 502,
    "rejected": 502,
    "circuit_open": 503,
    "saturated": 503,
    "model_not_allowed": 422,
}


class ProviderError(Exception):
    def __init__(self, kind: Kind, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.kind: Kind = kind
        self.message = message
        self.retry_after_s = retry_after_s

    @property
    def status(self) -> int:
        return STATUS[self.kind]

    def retry_after_header(self) -> str | None:
        """Whole seconds for `Retry-After` (at least 1), or None."""
        if self.retry_after_s is None:
            return None
        return str(max(1, math.ceil(self.retry_after_s)))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """`Retry-After` as seconds from now: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))
