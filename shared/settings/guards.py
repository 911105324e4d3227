"""Request guards: rate limits (GCRA policies, token budgets) and concurrent-session limits."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import SettingsError, setting

_MODES = ("enforce", "shadow", "off")
_FAIL = ("open", "closed")


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
    rate_limit_mode: str = setting(
        "RATE_LIMIT_MODE",
        "enforce",
        "Mode of the request policies: enforce, shadow (count, never block) or off.",
        choices=_MODES,
    )
    rate_limit_fail_mode: str = setting(
        "RATE_LIMIT_FAIL_MODE",
        "open",
        "Request policies when Redis is down or slow: open (admit) or closed (503).",
        choices=_FAIL,
    )
    rate_limit_daily_requests: int = setting(
        "RATE_LIMIT_DAILY_REQUESTS",
        0,
        "Second request policy: requests per day per identity (0 = off).",
        minimum=0,
    )
    token_limit_per_minute: int = setting(
        "TOKEN_LIMIT_PER_MINUTE",
        100_000,
        "LLM tokens per minute per identity, reserved then settled (0 = off).",
        minimum=0,
    )
    token_limit_model_per_minute: int = setting(
        "TOKEN_LIMIT_MODEL_PER_MINUTE",
        0,
        "LLM tokens per minute per identity and model (0 = off).",
        minimum=0,
    )
    token_limit_mode: str = setting(
        "TOKEN_LIMIT_MODE", "enforce", "Mode of the token policies.", choices=_MODES
    )
    token_limit_fail_mode: str = setting(
        "TOKEN_LIMIT_FAIL_MODE", "open", "Token policies when Redis fails.", choices=_FAIL
    )
    token_estimate_completion: int = setting(
        "TOKEN_ESTIMATE_COMPLETION",
        256,
        "Completion tokens reserved before the model call (settled with the actual usage).",
        minimum=0,
    )
    token_reservation_ttl_s: float = setting(
        "TOKEN_RESERVATION_TTL",
        300.0,
        "An unsettled token reservation releases itself (refund window closes) after this.",
        unit="s",
        minimum=1,
    )
    rate_limit_overrides: str = setting(
        "RATE_LIMIT_OVERRIDES",
        "",
        'JSON: {"users": {id: {policy: {"limit": n, "window_s": s, "mode": m}}}, "tenants": '
        "{...}}; a user's entry wins over its tenant's.",
    )
    tenant_claim: str = setting(
        "RATE_LIMIT_TENANT_CLAIM", "tenant", "JWT claim naming the caller's tenant."
    )
    guard_timeout_s: float = setting(
        "GUARD_REDIS_TIMEOUT",
        0.25,
        "Redis time allowed to one guard round trip (time the web process's event loop spent on "
        "other requests does not count, up to 4x or 1 s). A timeout with no answer from Redis "
        "on a responsive loop applies the fail mode; one while the process was congested sheds "
        "the request (503 + Retry-After).",
        unit="s",
        minimum=0.005,
    )
    session_ttl_s: float = setting(
        "SESSION_TTL",
        120.0,
        "A session expires this long after its last heartbeat.",
        unit="s",
        minimum=1,
    )
    session_policy: str = setting(
        "SESSION_LIMIT_POLICY",
        "reject-newest",
        "At the limit: reject-newest (429) or evict-oldest.",
        choices=("reject-newest", "evict-oldest"),
    )

    def __post_init__(self) -> None:
        # Parse now so a malformed override stops the process at start, naming the variable.
        from shared.guards.overrides import parse_overrides  # noqa: PLC0415  (no import cycle)

        try:
            parse_overrides(self.rate_limit_overrides)
        except ValueError as exc:
            raise SettingsError(f"RATE_LIMIT_OVERRIDES: {exc}") from None
