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
        "What answers a chat message: `openai` (any OpenAI-compatible server, see "
        "OPENAI_BASE_URL), or a `module:callable` adapter (default: a deterministic demo).",
    )
    concurrency: int = setting(
        "WEB_CONCURRENCY",
        0,
        "Web server processes started by `python -m web.serve` (0: one per CPU core).",
        minimum=0,
    )
    access_log: bool = setting(
        "WEB_ACCESS_LOG",
        False,
        "uvicorn's access log, one line per request from `python -m web.serve` (off: a line per "
        "request costs web CPU on the request path; the proxy's log and /metrics cover it).",
    )
    gc_freeze: bool = setting(
        "WEB_GC_FREEZE",
        True,
        "At the end of start-up each web process moves what it has loaded out of the cyclic "
        "garbage collector's view (`gc.freeze`) and collects less often, so a full collection "
        "scans only what requests allocate (the hit's p99 is mostly such pauses otherwise).",
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
    write_behind_interval_ms: float = setting(
        "WEB_WRITE_BEHIND_INTERVAL_MS",
        5.0,
        "Longest a post-response write (settle, analytics event, counter, refusal audit) waits "
        "in the per-process buffer before its batch is flushed as one pipeline.",
        unit="ms",
        minimum=0.1,
        maximum=10_000,
    )
    write_behind_batch: int = setting(
        "WEB_WRITE_BEHIND_BATCH",
        256,
        "Buffered writes that trigger a flush at once, and the most one pipeline carries.",
        minimum=1,
    )
    write_behind_capacity: int = setting(
        "WEB_WRITE_BEHIND_CAPACITY",
        10_000,
        "Most writes one process buffers; beyond it new ones are dropped and counted on /metrics "
        "(chatbot_write_behind_dropped_total). Only counts and corrections ride here, never "
        "guard decisions.",
        minimum=1,
    )
