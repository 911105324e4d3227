"""The one pipeline helper module: batching, chunking and cluster-aware SCAN + UNLINK.

The rule for every Redis helper in `shared/`: it *queues* commands on a pipeline that the caller
passes in, and the caller executes once. This module holds the few helpers that own the execute
themselves because their whole point is to bound a large job (chunked pipelines), and the
pieces of a sweep: resumable SCAN pages over every primary of a cluster and slot-safe UNLINKs.
The sweep itself is `shared.cache.sweep`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeAlias, TypeVar

import orjson
from redis.client import Pipeline
from redis.cluster import RedisCluster
from redis.crc import key_slot

from shared.redis_client import RedisClient, as_bytes

T = TypeVar("T")
# ClusterPipeline queues the same commands; see the note on RedisClient.
AnyPipeline: TypeAlias = Pipeline
DEFAULT_CHUNK = 500


def chunked(items: Iterable[T], size: int = DEFAULT_CHUNK) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items."""
    if size < 1:
        raise ValueError("chunk size must be >= 1")
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


def execute_chunked(
    client: RedisClient,
    items: Iterable[T],
    queue: Callable[[AnyPipeline, T], None],
    *,
    chunk: int = DEFAULT_CHUNK,
    transaction: bool = False,
) -> list[Any]:
    """Queue `queue(pipe, item)` for every item, executing once per chunk; all replies in order."""
    replies: list[Any] = []
    for batch in chunked(items, chunk):
        with client.pipeline(transaction=transaction) as pipe:
            for item in batch:
                queue(pipe, item)
            replies.extend(pipe.execute())
    return replies


def queue_json_set(pipe: AnyPipeline, key: str, value: Any, ttl_s: float | None = None) -> None:
    """Queue SET of `value` as JSON with an optional TTL (milliseconds precision)."""
    pipe.set(key, orjson.dumps(value), px=int(ttl_s * 1000) if ttl_s else None)


def queue_unlink(pipe: AnyPipeline, keys: Sequence[str | bytes], *, cluster: bool) -> int:
    """Queue UNLINK of `keys`; on a cluster one UNLINK per slot, so no command spans slots."""
    if not keys:
        return 0
    if not cluster:
        pipe.unlink(*keys)
        return 1
    by_slot: dict[int, list[str | bytes]] = defaultdict(list)
    for key in keys:
        by_slot[key_slot(key if isinstance(key, bytes) else key.encode())].append(key)
    for slot_keys in by_slot.values():
        # ClusterPipeline.unlink refuses several keys even within one slot; the raw command
        # is routed by its first key, and every key here shares that key's slot.
        pipe.execute_command("UNLINK", *slot_keys)  # type: ignore[no-untyped-call]
    return len(by_slot)


def primaries(client: RedisClient) -> list[tuple[str, RedisClient]]:
    """(name, client) of every node a SCAN must visit: the primaries of a cluster, or the server."""
    if isinstance(client, RedisCluster):
        return [(n.name, n.redis_connection) for n in client.get_primaries()]
    return [("standalone", client)]


@dataclass
class ScanState:
    """Where a resumable SCAN stands: the cursor of each node; a node absent has not started."""

    cursors: dict[str, int] = field(default_factory=dict)
    done_nodes: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {"cursors": self.cursors, "done": sorted(self.done_nodes)}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ScanState:
        if not data:
            return cls()
        return cls({k: int(v) for k, v in data["cursors"].items()}, set(data["done"]))


def scan_pages(
    client: RedisClient,
    match: str,
    *,
    count: int = 1000,
    state: ScanState | None = None,
    type_: str | None = None,
) -> Iterator[tuple[ScanState, list[bytes]]]:
    """Yield (state after this page, keys of the page) over every primary; resumable from `state`.

    SCAN may return a key more than once; callers must be idempotent per key (UNLINK is).
    """
    state = state or ScanState()
    for name, node in primaries(client):
        if name in state.done_nodes:
            continue
        cursor = state.cursors.get(name, 0)
        while True:
            cursor, page = node.scan(cursor=cursor, match=match, count=count, _type=type_)
            if cursor == 0:
                state.done_nodes.add(name)
                state.cursors.pop(name, None)
            else:
                state.cursors[name] = cursor
            yield state, as_bytes(page)
            if cursor == 0:
                break
