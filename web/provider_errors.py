"""Provider failures as our answers: a JSON error with the status of its kind, counted on /metrics.

429 from the provider → 503 with its Retry-After; timeout → 504; 5xx, unreachable, malformed
or refused → 502; an open circuit, or no free call slot in this process → 503 without a call;
a model outside OPENAI_MODELS → 422.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from shared.provider.errors import ProviderError
from shared.settings import Settings
from web.errors import error_body
from web.metrics import REGISTRY

PROVIDER_ERRORS = Counter(
    "chatbot_provider_errors",
    "Model provider calls that failed, by kind (rate_limited, timeout, upstream, malformed, "
    "rejected, circuit_open, saturated)",
    ["kind"],
    registry=REGISTRY,
)
# Failures in which the provider generated nothing: the reservation is settled at 0.
_NOTHING_USED = {"rate_limited", "circuit_open", "saturated", "model_not_allowed", "rejected"}


def check_model(settings: Settings, model: str) -> None:
    """Refuse (422) a model outside OPENAI_MODELS before any guard is charged."""
    if settings.web.responder == "openai" and not settings.provider.allows(model):
        raise ProviderError("model_not_allowed", f"model {model!r} is not offered here")


def count(exc: ProviderError) -> None:
    if exc.kind != "model_not_allowed":  # the request's fault, not the provider's
        PROVIDER_ERRORS.labels(exc.kind).inc()


def tokens_used(exc: ProviderError, estimate: int) -> int:
    """What a failed call is settled at: nothing when the provider generated nothing, else
    the estimate (a timed-out or broken call may well have used it)."""
    return 0 if exc.kind in _NOTHING_USED else estimate


def event_error(exc: ProviderError) -> dict[str, dict[str, str]]:
    """The last event of a stream that failed after it started."""
    return {"error": {"type": exc.kind, "message": exc.message}}


async def respond(_: Request, exc: Exception) -> JSONResponse:
    """Exception handler of `ProviderError` raised before a response started."""
    assert isinstance(exc, ProviderError)
    count(exc)
    wait = exc.retry_after_header()
    return JSONResponse(
        error_body(exc.status, exc.message, type=exc.kind),
        status_code=exc.status,
        headers={"Retry-After": wait} if wait else None,
    )
