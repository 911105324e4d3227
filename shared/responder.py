"""The chat responder contracts and the default demo responder.

`CHAT_RESPONDER` selects what answers a chat message:
- `openai`: any OpenAI-compatible chat completions server (`shared.provider.openai_chat`).
- `module:callable`: a sync `(message, model) -> Reply` adapter (run in a worker thread), or an
  object with the async `ChatModel` methods.
The default is a small deterministic demo, not a language model: it lets the suite run and be
tested without an LLM provider.

Everything that answers (the web's /chat and /chat/stream, warmup, refresh) goes through a
`ChatModel`: `complete` for a whole answer, `stream` for text pieces then one `Usage`.
"""

from __future__ import annotations

import asyncio
import functools
import importlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import anyio.to_thread

from shared.normalize import normalize_query


@dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int


Responder = Callable[[str, str], Reply]
Piece = str | Usage


@runtime_checkable
class ChatModel(Protocol):
    async def complete(self, message: str, model: str) -> Reply:
        """The whole answer, with the tokens it used."""

    def stream(self, message: str, model: str) -> AsyncIterator[Piece]:
        """Text pieces as they are generated, then exactly one `Usage`."""

    async def aclose(self) -> None:
        """Release what the running event loop holds (connections); the model stays usable."""


def estimate_prompt_tokens(message: str) -> int:
    """~4 characters a token: what we settle when a provider reports no usage."""
    return math.ceil(len(message) / 4)


def demo_responder(message: str, model: str) -> Reply:
    """Deterministic demo answer: echoes the normalised question (labelled DEMO in the text)."""
    words = normalize_query(message).split()
    text = f"[DEMO {model}] You asked about: {' '.join(words[:32]) or '(nothing)'}."
    return Reply(text=text, prompt_tokens=len(words), completion_tokens=len(text.split()))


class SyncChatModel:
    """A sync responder as a `ChatModel`: its whole answer is one piece of the stream."""

    def __init__(self, responder: Responder, *, in_thread: bool = True) -> None:
        self.responder = responder
        self.in_thread = in_thread  # False only for responders that never block (the demo)

    async def complete(self, message: str, model: str) -> Reply:
        if not self.in_thread:
            return self.responder(message, model)
        return await anyio.to_thread.run_sync(self.responder, message, model)

    async def stream(self, message: str, model: str) -> AsyncIterator[Piece]:
        reply = await self.complete(message, model)
        if reply.text:
            yield reply.text
        yield Usage(reply.prompt_tokens, reply.completion_tokens)

    async def aclose(self) -> None:
        return None


DEMO = "shared.responder:demo_responder"


@functools.cache
def load_responder(path: str) -> Responder:
    """Import `module:callable`; raises ValueError with the setting's name when it is wrong."""
    module_name, _, attr = path.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"CHAT_RESPONDER: cannot import {path!r}: {exc}") from exc
    if not callable(found) and not isinstance(found, ChatModel):
        raise ValueError(f"CHAT_RESPONDER: {path!r} is not callable")
    return found  # type: ignore[no-any-return]


@functools.cache
def get_chat_model(path: str) -> ChatModel:
    """The process's `ChatModel` for the CHAT_RESPONDER value `path` (built once)."""
    if path == "openai":
        from shared.provider.openai_chat import OpenAIChat  # noqa: PLC0415  (optional client)
        from shared.settings import get_settings  # noqa: PLC0415

        return OpenAIChat(get_settings().provider)
    found = load_responder(path)
    if isinstance(found, ChatModel):
        return found
    # The demo is pure CPU in microseconds: a thread hop would cost more than the answer.
    return SyncChatModel(found, in_thread=path != DEMO)


def complete_now(chat: ChatModel, message: str, model: str) -> Reply:
    """One answer for a sync caller (a worker's task): on an event loop of its own, whose
    provider connections are closed before returning."""

    async def once() -> Reply:
        try:
            return await chat.complete(message, model)
        finally:
            await chat.aclose()

    return asyncio.run(once())
