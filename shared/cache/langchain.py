"""A LangChain `BaseCache` on our response cache: `set_llm_cache(ResponseCache())`.

Optional: needs the `langchain` extra (`pip install '.[langchain]'`, langchain-core). A chain's
model calls then go through the same store as /chat: keys normalised the same way (the last
message's text, so "What is Redis?" and "what is redis" share an answer), the prompt-template
version, jittered TTLs, tags (`model:<name>`, `template:<version>`, `langchain` and the cache's
own), per-user generations for a cache bound to a user (`for_user`), and the hit and miss
counters behind the hit rate. What retires a /chat answer retires a chain's: tag, user and
pattern invalidation (the admin API, `cache.invalidate`), the template version.

The rest of the prompt (system message, earlier turns) and the model's parameters are part
of the key as digests: the same question in another context or at another temperature is
another entry. A stale entry is a miss here (LangChain regenerates and updates it).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson

try:
    from langchain_core.caches import BaseCache
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, Generation
except ImportError as exc:  # pragma: no cover - the core install has no langchain-core
    raise ImportError(
        "shared.cache.langchain needs langchain-core: pip install 'chatbot-workers[langchain]'"
    ) from exc

from shared.cache import invalidate, serve
from shared.cache.entry import CacheKey
from shared.cache.store import current_generation, envelope_for, queue_count, queue_store
from shared.redis_client import RedisClient, get_redis
from shared.responder import Reply
from shared.settings import get_settings
from shared.settings.cache import CacheSettings

TAG = "langchain"  # on every entry written through this cache: `clear()` retires them all
_MODEL_FIELD = re.compile(r"""['"](?:model_name|model|_type)['"]\s*:\s*['"]([^'"]{1,200})['"]""")
_MODEL_NAME = re.compile(r"[^A-Za-z0-9._:-]")


def _digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def model_of(llm_string: str) -> str:
    """The model's name as LangChain serialised it (for the `model:` tag), else `langchain`."""
    found = _MODEL_FIELD.search(llm_string)
    name = _MODEL_NAME.sub("-", found.group(1))[:64] if found else ""
    return name or "langchain"


def split_prompt(prompt: str) -> tuple[str, str]:
    """(the question, the rest): a chat prompt is LangChain's JSON of the messages; the
    question is the last message's text. A plain LLM prompt is all question."""
    try:
        messages = orjson.loads(prompt)
        last = messages[-1]["kwargs"]["content"]
    except (orjson.JSONDecodeError, TypeError, KeyError, IndexError):
        return prompt, ""
    if not isinstance(last, str):
        return prompt, ""
    return last, orjson.dumps(messages[:-1]).decode()


def _encode(generations: Sequence[Generation]) -> str:
    return orjson.dumps(
        [{"text": g.text, "chat": isinstance(g, ChatGeneration)} for g in generations]
    ).decode()


def _generation(text: str, chat: bool) -> Generation:
    return ChatGeneration(message=AIMessage(content=text)) if chat else Generation(text=text)


def _decode(response: str) -> list[Generation] | None:
    try:
        stored = orjson.loads(response)
        return [_generation(str(g["text"]), bool(g["chat"])) for g in stored]
    except (orjson.JSONDecodeError, TypeError, KeyError):
        return None


def _usage(generations: Sequence[Generation]) -> tuple[int, int]:
    prompt = completion = 0
    for g in generations:
        usage = getattr(getattr(g, "message", None), "usage_metadata", None) or {}
        prompt += int(usage.get("input_tokens", 0))
        completion += int(usage.get("output_tokens", 0))
    return prompt, completion


class ResponseCache(BaseCache):
    """Our response cache as LangChain's LLM cache (sync Redis client; LangChain runs the
    async methods in its executor)."""

    def __init__(
        self,
        client: RedisClient | None = None,
        *,
        user_id: str | None = None,
        tags: Iterable[str] = (),
        template_version: str | None = None,
        settings: CacheSettings | None = None,
    ) -> None:
        self.client = client or get_redis()
        self.settings = settings or get_settings().cache
        self.user_id = user_id
        self.tags = (TAG, *tags)
        self.template_version = template_version or self.settings.template_version

    def for_user(self, user_id: str) -> ResponseCache:
        """The same cache with per-user entries (retired by invalidating the user)."""
        return ResponseCache(
            self.client, user_id=user_id, tags=self.tags[1:],
            template_version=self.template_version, settings=self.settings,
        )  # fmt: skip

    def key(self, prompt: str, llm_string: str) -> CacheKey:
        question, context = split_prompt(prompt)
        params = {"llm": _digest(llm_string), "context": _digest(context)}
        return CacheKey.build(
            question, model_of(llm_string), template_version=self.template_version,
            params=params, user_id=self.user_id,
        )  # fmt: skip

    def lookup(self, prompt: str, llm_string: str) -> list[Generation] | None:
        key = self.key(prompt, llm_string)
        verdict, _ = serve.read(key, self.client.mget(key.read_keys()), time.time())
        if verdict.status != "hit" or verdict.envelope is None:
            return None  # the miss is counted when the answer is stored
        generations = _decode(verdict.envelope.response)
        if generations is not None:
            with self.client.pipeline(transaction=False) as pipe:
                queue_count(pipe, "hit", verdict.envelope.source, key.qhash)
                pipe.execute()
        return generations

    def update(self, prompt: str, llm_string: str, return_val: Sequence[Generation]) -> None:
        key = self.key(prompt, llm_string)
        reply = Reply(_encode(return_val), *_usage(return_val))
        gen = current_generation(self.client, key)
        envelope = envelope_for(
            key, reply, source="live", now=time.time(), settings=self.settings, tags=self.tags
        )
        with self.client.pipeline(transaction=False) as pipe:
            queue_store(pipe, key, envelope, gen=gen, settings=self.settings, count_miss=True)
            pipe.execute()

    def clear(self, **kwargs: Any) -> None:  # noqa: ARG002  (BaseCache's signature)
        """Retire the entries of this cache: the user's (a user-bound cache), else every entry
        written through LangChain (the `langchain` tag)."""
        if self.user_id is not None:
            invalidate.invalidate_user(self.client, self.user_id, self.settings)
        else:
            invalidate.invalidate_tag(self.client, TAG, self.settings)


__all__ = ["TAG", "ResponseCache"]
