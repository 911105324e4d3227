"""Request guards: rate limits and concurrent-session limits."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class GuardSettings:
    rate_limit_enabled: bool = setting("RATE_LIMIT_ENABLED", True, "Master switch of rate limits.")
    rate_limit_requests: int = setting(
        "RATE_LIMIT_REQUESTS",
        100,
        "Requests per window per identity (also the burst).",
        minimum=1,
    )
    rate_limit_window_s: float = setting(
        "RATE_LIMIT_WINDOW", 60.0, "Window of RATE_LIMIT_REQUESTS.", unit="s", minimum=0.001
    )
    max_concurrent_sessions: int = setting(
        "MAX_CONCURRENT_SESSIONS", 5, "Live sessions per user.", minimum=1
    )
