"""A LangChain chain with langchain-core's fake chat model, cached through our response cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis
from langchain_core.globals import set_llm_cache
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import Runnable

from shared.cache.invalidate import invalidate_tag, invalidate_user
from shared.cache.langchain import ResponseCache
from shared.cache.store import read_stats
from shared.settings import get_settings

PROMPT = ChatPromptTemplate.from_messages(
    [("system", "You answer questions about databases."), ("human", "{question}")]
)


@pytest.fixture(autouse=True)
def _no_global_cache() -> Iterator[None]:
    yield
    set_llm_cache(None)


def _chain(*answers: str) -> tuple[Runnable[dict[str, str], str], FakeListChatModel]:
    model = FakeListChatModel(responses=list(answers))
    return PROMPT | model | StrOutputParser(), model


def test_an_equivalent_question_is_answered_from_our_cache(r: redis.Redis) -> None:
    set_llm_cache(ResponseCache(r, tags=["faq"]))
    chain, model = _chain("first answer", "second answer")
    assert chain.invoke({"question": "What is Redis?"}) == "first answer"
    assert chain.invoke({"question": "what is   redis"}) == "first answer"  # normalised key
    assert model.i == 1  # one model call
    assert read_stats(r) == {"miss": 1, "hit:live": 1}  # our hit counters
    # Another system prompt is another context: another entry.
    other = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{question}")])
    assert (other | model | StrOutputParser()).invoke({"question": "What is Redis?"}) == (
        "second answer"
    )


def test_invalidating_a_tag_reaches_the_chains_answers(r: redis.Redis) -> None:
    set_llm_cache(ResponseCache(r, tags=["faq"]))
    chain, _ = _chain("old answer", "new answer")
    chain.invoke({"question": "What is Redis?"})
    report = invalidate_tag(r, "faq", get_settings().cache)
    assert report["unlinked"] == 1
    assert chain.invoke({"question": "What is Redis?"}) == "new answer"


def test_per_user_answers_are_retired_by_invalidating_the_user(r: redis.Redis) -> None:
    cache = ResponseCache(r)
    alice, bob = cache.for_user("alice"), cache.for_user("bob")
    chain, _ = _chain("a1", "b1", "a2", "b2")
    set_llm_cache(alice)
    assert chain.invoke({"question": "my plan?"}) == "a1"
    set_llm_cache(bob)
    assert chain.invoke({"question": "my plan?"}) == "b1"  # users never share an answer
    invalidate_user(r, "alice", get_settings().cache)
    set_llm_cache(alice)
    assert chain.invoke({"question": "my plan?"}) == "a2"
    set_llm_cache(bob)
    assert chain.invoke({"question": "my plan?"}) == "b1"  # bob's answer survived


def test_a_new_template_version_and_clear_retire_answers(r: redis.Redis) -> None:
    chain, _ = _chain("v1", "v2", "v3")
    set_llm_cache(ResponseCache(r, template_version="t1"))
    assert chain.invoke({"question": "q"}) == "v1"
    set_llm_cache(ResponseCache(r, template_version="t2"))
    assert chain.invoke({"question": "q"}) == "v2"
    ResponseCache(r, template_version="t2").clear()
    assert chain.invoke({"question": "q"}) == "v3"


async def _ainvoke(chain: Runnable[dict[str, str], str], question: str) -> str:
    return await chain.ainvoke({"question": question})


def test_the_async_path_uses_the_same_entries(r: redis.Redis) -> None:
    import asyncio  # noqa: PLC0415

    set_llm_cache(ResponseCache(r))
    chain, model = _chain("only answer", "never")
    assert chain.invoke({"question": "async?"}) == "only answer"
    assert asyncio.run(_ainvoke(chain, "Async?")) == "only answer"
    assert model.i == 1
