"""The per-process write-behind buffer: post-response writes leave as ONE pipeline per flush.

What rides here is what the answer does not depend on: token settles, analytics events, cache
hit counters and refusal audits. A write waits at most WEB_WRITE_BEHIND_INTERVAL_MS, or until
WEB_WRITE_BEHIND_BATCH writes are waiting; the lifespan drains the buffer on shutdown.

Bounded: beyond WEB_WRITE_BEHIND_CAPACITY a new write is dropped and counted
(`chatbot_write_behind_dropped_total{kind}`). Guard decisions never ride here: a dropped or lost
settle leaves the reservation's estimate charged until the record expires by itself.

Each write goes out once. A failed flush is counted (`chatbot_write_behind_failed_total`) and
not retried, except for scripts the server did not know (NOSCRIPT ran nothing): retrying a
pipeline that may have been applied could count an event twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import Counter
from redis.exceptions import NoScriptError, RedisError
from starlette.requests import Request

from shared import lua
from shared.redis_client import AsyncRedisClient, is_cluster
from shared.redis_mux import Multiplexer
from shared.settings.web import WebSettings
from web.metrics import REGISTRY

log = logging.getLogger(__name__)

DROPPED = Counter(
    "chatbot_write_behind_dropped",
    "Post-response writes dropped because the process's buffer was full",
    ["kind"],
    registry=REGISTRY,
)
FAILED = Counter(
    "chatbot_write_behind_failed",
    "Post-response writes whose flush failed (not retried: they may have been applied)",
    ["kind"],
    registry=REGISTRY,
)


@dataclass(frozen=True, slots=True)
class Write:
    """One buffered write: either commands queued on a pipeline, or one Lua script call.

    `kind` labels the metrics (settle, event, count, audit).
    """

    kind: str
    queue: Callable[[Any], object] | None = None
    script: tuple[str, list[str], list[str | int]] | None = None


class WriteBehind:
    def __init__(
        self, client: AsyncRedisClient, settings: WebSettings, mux: Multiplexer | None = None
    ) -> None:
        self._client = client
        self._mux = mux  # standalone: the batch leaves on the auto-pipelined connection
        self._interval_s = settings.write_behind_interval_ms / 1000
        self._batch = settings.write_behind_batch
        self._capacity = settings.write_behind_capacity
        self._items: list[Write] = []
        self._lock = asyncio.Lock()
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self._failing = 0  # failed flushes in the current incident (logged first and last)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, write: Write) -> bool:
        """Buffer `write` (no I/O); False when the buffer is full and it was dropped."""
        if len(self._items) >= self._capacity:
            DROPPED.labels(write.kind).inc()
            return False
        self._items.append(write)
        if len(self._items) >= self._batch:
            self._start()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._interval_s, self._start)
        return True

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        # A running flush takes every write that arrives before it finishes.
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self.flush())

    async def flush(self) -> None:
        """Write everything buffered, one pipeline per WEB_WRITE_BEHIND_BATCH writes."""
        async with self._lock:
            while self._items:
                batch, self._items = self._items[: self._batch], self._items[self._batch :]
                try:
                    await self._write(batch)
                except (RedisError, OSError, TimeoutError) as exc:
                    for w in batch:
                        FAILED.labels(w.kind).inc()
                    self._failing += 1
                    if self._failing == 1:  # once per incident, not once per flush
                        log.warning("write-behind flush failed, writes dropped: %r", exc)
                    continue
                if self._failing:
                    log.warning("write-behind recovered after %d failed flushes", self._failing)
                    self._failing = 0

    async def drain(self) -> None:
        """Flush now and wait for it (shutdown, tests)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self.flush()

    async def _write(self, batch: list[Write]) -> None:
        if is_cluster(self._client):
            await self._write_cluster(batch)
            return
        spans: list[tuple[int, int, Write]] = []  # each write's replies: [start, end)
        async with self._client.pipeline(transaction=False) as pipe:
            for w in batch:
                start = len(pipe.command_stack)
                if w.script is not None:
                    name, keys, args = w.script
                    pipe.evalsha(lua.script(self._client, name).sha, len(keys), *keys, *args)
                elif w.queue is not None:
                    w.queue(pipe)
                spans.append((start, len(pipe.command_stack), w))
            if self._mux is None:
                replies = await pipe.execute(raise_on_error=False)
            else:  # the pipeline only built the commands; the replies are not read through it
                commands = [args for args, _options in pipe.command_stack]
                replies = await self._mux.call(*commands)
        unknown = []
        for start, end, w in spans:
            errors = [x for x in replies[start:end] if isinstance(x, Exception)]
            if w.script is not None and errors and isinstance(errors[0], NoScriptError):
                unknown.append(w)
            elif errors:
                FAILED.labels(w.kind).inc()
        if unknown:  # after a SCRIPT FLUSH or restart: these ran nothing, so run them now
            await asyncio.gather(*(self._call(w) for w in unknown))

    async def _call(self, w: Write) -> None:
        assert w.script is not None
        name, keys, args = w.script
        try:
            await lua.script(self._client, name)(keys=keys, args=args)
        except RedisError:
            FAILED.labels(w.kind).inc()

    async def _write_cluster(self, batch: list[Write]) -> None:
        # The cluster pipeline cannot carry EVALSHA: scripts (each in its caller's slot) go
        # concurrently beside one cluster pipeline of the plain commands.
        plain = [w for w in batch if w.queue is not None]
        calls = [self._call(w) for w in batch if w.script is not None]

        async def commands() -> None:
            if not plain:
                return
            async with self._client.pipeline(transaction=False) as pipe:
                for w in plain:
                    assert w.queue is not None
                    w.queue(pipe)
                replies = await pipe.execute(raise_on_error=False)
            failed = sum(isinstance(x, Exception) for x in replies)
            if failed:
                log.warning("write-behind: %d commands failed", failed)

        await asyncio.gather(commands(), *calls)


def of(request: Request) -> WriteBehind:
    """The process's buffer (created by the lifespan)."""
    buffer: WriteBehind = request.app.state.write_behind
    return buffer
