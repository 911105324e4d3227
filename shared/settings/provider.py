"""The model provider behind `CHAT_RESPONDER=openai`: any OpenAI-compatible chat completions server.

OPENAI_BASE_URL and OPENAI_API_KEY are the official client's own variables (same names, same
meaning), so a deployment that already points the `openai` package at vLLM, Ollama or OpenAI
needs nothing new; the other settings bound what one process asks of the provider.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class ProviderSettings:
    base_url: str | None = setting(
        "OPENAI_BASE_URL",
        None,
        "Chat completions endpoint of `CHAT_RESPONDER=openai`, e.g. http://localhost:11434/v1 "
        "(Ollama) or http://localhost:8000/v1 (vLLM). Unset: api.openai.com.",
    )
    api_key: str | None = setting(
        "OPENAI_API_KEY",
        None,
        "Bearer key sent to the provider (required by the client; local servers accept any value).",
        secret=True,
    )
    timeout_s: float = setting(
        "OPENAI_TIMEOUT",
        30.0,
        "Longest a provider call may take, and longest a stream may stay silent; then 504.",
        unit="s",
        minimum=0.1,
        maximum=600,
    )
    max_concurrency: int = setting(
        "OPENAI_MAX_CONCURRENCY",
        16,
        "Provider calls one process makes at once; a further call waits up to OPENAI_TIMEOUT "
        "for a slot, then is shed with 503.",
        minimum=1,
        maximum=1024,
    )
    models: tuple[str, ...] = setting(
        "OPENAI_MODELS",
        (),
        "Comma-separated models a request may name; others get 422. Empty: any model is passed "
        "to the provider as given.",
    )
    max_tokens: int = setting(
        "OPENAI_MAX_TOKENS",
        0,
        "max_tokens of each completion (0: the provider's default).",
        unit="tokens",
        minimum=0,
    )
    breaker_failures: int = setting(
        "OPENAI_BREAKER_FAILURES",
        5,
        "Consecutive provider failures (5xx, timeout, malformed stream) that open the circuit.",
        minimum=1,
    )
    breaker_cooldown_s: float = setting(
        "OPENAI_BREAKER_COOLDOWN",
        10.0,
        "How long an open circuit answers 503 without calling the provider before one trial "
        "call is let through.",
        unit="s",
        minimum=0.01,
    )

    def allows(self, model: str) -> bool:
        """Whether a request may name `model` (every model when OPENAI_MODELS is empty)."""
        return not self.models or model in self.models
