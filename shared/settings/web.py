"""The reference web app: authentication, proxies, the responder, its processes and their bounds."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class WebSettings:
    jwt_secret: str | None = setting(
        "JWT_SECRET",
        None,
        "HS256 secret of bearer tokens. Unset: tokens are refused and admin endpoints answer 401.",
        secret=True,
    )
    trusted_proxies: tuple[str, ...] = setting(
        "TRUSTED_PROXIES",
        (),
        "Comma-separated proxy addresses/CIDRs whose X-Forwarded-For is honoured.",
    )
    snapshot_cache_ttl_s: float = setting(
        "WEB_SNAPSHOT_CACHE_TTL",
        1.0,
        "How long a web process reuses a snapshot it read (0: read Redis every request).",
        unit="s",
        minimum=0,
    )
    responder: str = setting(
        "CHAT_RESPONDER",
        "shared.responder:demo_responder",
        "`module:callable` that answers a chat message (default: a deterministic demo).",
    )
    concurrency: int = setting(
        "WEB_CONCURRENCY",
        0,
        "Web server processes started by `python -m web.serve` (0: one per CPU core).",
        minimum=0,
    )
    max_body_bytes: int = setting(
        "WEB_MAX_BODY_BYTES",
        256 * 1024,
        "Largest request body outside `POST /files` (whose bound is FILES_MAX_BYTES plus the "
        "multipart framing); larger bodies get 413 from Content-Length or while streaming.",
        unit="bytes",
        minimum=1024,
    )
    max_in_flight: int = setting(
        "WEB_MAX_IN_FLIGHT",
        256,
        "Requests one web process works on at once; beyond it 503 with Retry-After (health and "
        "metrics exempt).",
        minimum=1,
    )
