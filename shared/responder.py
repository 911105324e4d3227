"""The chat responder contract and the default demo responder.

CHAT_RESPONDER names a `module:callable` taking (message, model) and returning a `Reply`. The
default is a small deterministic demo, not a language model: it lets the suite run and be tested
without an LLM provider. Point CHAT_RESPONDER at your own adapter in production.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass

from shared.normalize import normalize_query


@dataclass(frozen=True)
class Reply:
    text: str
    prompt_tokens: int
    completion_tokens: int


Responder = Callable[[str, str], Reply]


def demo_responder(message: str, model: str) -> Reply:
    """Deterministic demo answer: echoes the normalised question (labelled DEMO in the text)."""
    words = normalize_query(message).split()
    text = f"[DEMO {model}] You asked about: {' '.join(words[:32]) or '(nothing)'}."
    return Reply(text=text, prompt_tokens=len(words), completion_tokens=len(text.split()))


@functools.cache
def load_responder(path: str) -> Responder:
    """Import `module:callable`; raises ValueError with the setting's name when it is wrong."""
    module_name, _, attr = path.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"CHAT_RESPONDER: cannot import {path!r}: {exc}") from exc
    if not callable(found):
        raise ValueError(f"CHAT_RESPONDER: {path!r} is not callable")
    return found  # type: ignore[no-any-return]
