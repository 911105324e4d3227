"""Loads the Lua scripts in `shared/lua/` and registers each once per client.

redis-py's `Script` sends EVALSHA and reloads the source on NOSCRIPT, so a `SCRIPT FLUSH` (or a
Redis restart) costs one extra round trip, never an error.
"""

from __future__ import annotations

import functools
import threading
import weakref
from pathlib import Path
from typing import Any

from shared.redis_client import AsyncRedisClient, RedisClient

_DIR = Path(__file__).with_name("lua")
_lock = threading.Lock()
_registered: weakref.WeakKeyDictionary[RedisClient | AsyncRedisClient, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)


@functools.cache
def source(name: str) -> str:
    """The text of `shared/lua/<name>.lua`, after the shared prelude (`_clock.lua`)."""
    prelude = (_DIR / "_clock.lua").read_text(encoding="utf-8")
    return prelude + (_DIR / f"{name}.lua").read_text(encoding="utf-8")


def script(client: RedisClient | AsyncRedisClient, name: str) -> Any:
    """The `Script` (or `AsyncScript`) for `name` on `client`, registered once per client."""
    scripts = _registered.get(client)
    if scripts is None or name not in scripts:
        with _lock:
            scripts = _registered.setdefault(client, {})
            if name not in scripts:
                scripts[name] = client.register_script(source(name))
    return scripts[name]
