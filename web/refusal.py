"""A typed refusal (429/410 from a guard) and the ONE helper that audits it and answers.

Routes raise `Refusal` with what was decided (reason, policy, retry seconds); `respond` queues
the audit on the write-behind buffer (deduplicated per episode in Redis, across processes) and
builds the JSON error with `Retry-After` and the RateLimit headers. The refusal path therefore
costs no round trip of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from web import audit_log, write_behind
from web.auth import Principal, principal
from web.errors import error_body


@dataclass
class Refusal(Exception):
    """A guard said no. `retry_s` None: the request can never be admitted (no Retry-After)."""

    status: int  # 429 or 410
    reason: str
    event: str  # the audit event type: guard.rejected, session.limit
    policy: str | None = None
    retry_s: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.reason

    def response_headers(self) -> dict[str, str]:
        if self.retry_s is None:
            return dict(self.headers)
        return {**self.headers, "Retry-After": str(max(1, self.retry_s))}


async def respond(request: Request, exc: Exception) -> JSONResponse:
    """Exception handler: audit the refusal (buffered) and answer it."""
    assert isinstance(exc, Refusal)
    who: Principal = await principal(request)  # cached on request.state by the route's dependency
    details = {"status": exc.status, "reason": exc.reason, "policy": exc.policy, **exc.details}
    if exc.retry_s is not None:
        details["retry_after_s"] = exc.retry_s
    script = audit_log.refusal_script(
        request, who, exc.event, details, retry_after_s=exc.retry_s or 1
    )
    write_behind.of(request).add(write_behind.Write("audit", script=script))
    return JSONResponse(
        error_body(exc.status, exc.reason), status_code=exc.status, headers=exc.response_headers()
    )
