"""The whole cache cycle on standalone Redis and on a 3-primary cluster: no CROSSSLOT anywhere."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from shared import keys
from shared.cache import invalidate as inv
from shared.cache import serve
from shared.cache.entry import CacheKey
from shared.cache.store import read_stats, store_reply
from shared.responder import Reply
from shared.settings import get_settings
from tests.shared.cache.conftest import Counting

Run = Callable[[Callable[[Any], Any]], Any]


def _count(client: Any, pattern: str) -> int:
    return sum(1 for _ in client.scan_iter(match=pattern, count=1000))


def test_store_serve_and_invalidate_everywhere(data_plane: Any, run_async: Run) -> None:
    cs = get_settings().cache
    users = ["u1", "u*", "{u:u1}", None]
    for user in users:
        for i in range(40):
            key = CacheKey.build(f"q{i}", "demo", template_version="v1", user_id=user)
            store_reply(data_plane, key, Reply("a", 1, 1), source="live", now=time.time(),
                        settings=cs)  # fmt: skip

    async def served(client: Any) -> list[str]:
        out = []
        for user in users:
            key = CacheKey.build("q1", "demo", template_version="v1", user_id=user)
            result = await serve.answer(client, key, Counting(), _never, cs)
            await serve.count(client, key, result)
            out.append(result.status)
        fresh = CacheKey.build("new one", "demo", template_version="v1", user_id="u1")
        out.append((await serve.answer(client, fresh, Counting(), _never, cs)).status)
        return out

    assert run_async(served) == ["hit"] * 4 + ["miss"]
    assert read_stats(data_plane)["hit:live"] == 4

    assert inv.invalidate_user(data_plane, "u*", cs)["unlinked"] == 40
    assert _count(data_plane, keys.cache_user_entries_pattern("u1")) == 41
    assert inv.invalidate_tag(data_plane, "model:demo", cs)["unlinked"] == 41 + 40 + 40
    for user in users[:3]:
        inv.bump_user(data_plane, user or "", cs)
    assert inv.sweep_all(data_plane, cs)["kind"] == "sweep"
    for user in ("u2", None):
        for i in range(30):
            key = CacheKey.build(f"p{i}", "demo", template_version="v1", user_id=user)
            store_reply(data_plane, key, Reply("a", 1, 1), source="live", now=time.time(),
                        settings=cs)  # fmt: skip
    pattern = keys.cache_namespace() + "r:*"
    assert inv.invalidate_pattern(data_plane, pattern, cs)["unlinked"] == 60
    assert _count(data_plane, keys.cache_entries_prefix() + "*") == 0


async def _never() -> bool:
    raise AssertionError("nothing is stale here")
