"""The clients compared by `benchmarks.redis_clients`, each behind the same two calls.

`hit(i, n)` is coroutine i's n-th cache hit (EVALSHA guard + MGET, one pipelined round trip);
`flush()` is one write-behind pipeline of `HITS_PER_FLUSH` hits' counters and events.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

HITS_PER_FLUSH = 33
WIDE_POOL = 64  # one connection per coroutine at the highest concurrency


@dataclass
class Mix:
    """What one hit and one flush send, as plain strings (every client gets the same input)."""

    sha: str
    guard_keys: list[list[str]]  # per coroutine: the policy keys; the reservation key is added
    reservation_prefix: list[str]
    guard_args: list[list[str]]
    read_keys: list[list[str]]
    stream: str
    stats: str
    hits: str
    event: dict[str, bytes]
    maxlen: int


class Client:
    """One client under test: `hit(i, n)` is coroutine i's n-th hit, `flush()` one write-behind."""

    label = ""

    def __init__(self, mix: Mix, url: str, pool: int) -> None:
        self.mix, self.url, self.pool = mix, url, pool

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def hit(self, i: int, n: int) -> Any: ...
    async def flush(self) -> Any: ...

    async def flush_op(self, _i: int, _n: int) -> Any:
        return await self.flush()

    def guard(self, i: int, n: int) -> list[str]:
        """The guard's keys with a fresh reservation record (today's /chat writes one per hit)."""
        return [*self.mix.guard_keys[i], f"{self.mix.reservation_prefix[i]}{n}"]


def queue_flush(pipe: Any, m: Mix) -> None:
    """One write-behind flush of `HITS_PER_FLUSH` hits, queued on a redis-py pipeline."""
    for _ in range(HITS_PER_FLUSH):
        pipe.xadd(m.stream, m.event, maxlen=m.maxlen, approximate=True)
        pipe.hincrby(m.stats, "hit:live", 1)
        pipe.zincrby(m.hits, 1, "q-0123456789abcdef")


class RedisPy(Client):
    label = "redis-py asyncio + hiredis, pipelined"

    async def open(self) -> None:
        from shared.redis_client import build_async_client  # noqa: PLC0415
        from shared.settings import get_settings  # noqa: PLC0415

        self.client = build_async_client(get_settings().conn)  # the web's own client and pool

    async def close(self) -> None:
        await self.client.aclose()

    async def hit(self, i: int, n: int) -> Any:
        keys, args = self.guard(i, n), self.mix.guard_args[i]
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.evalsha(self.mix.sha, len(keys), *keys, *args)
            pipe.mget(self.mix.read_keys[i])
            return await pipe.execute()

    async def flush(self) -> Any:
        async with self.client.pipeline(transaction=False) as pipe:
            queue_flush(pipe, self.mix)
            return await pipe.execute()


class Multiplexed(RedisPy):
    label = "ours: shared.redis_mux on redis-py's connection, auto-pipelined"

    async def open(self) -> None:
        from shared.redis_mux import Multiplexer  # noqa: PLC0415

        await super().open()
        self.mux = Multiplexer(self.client)  # as the web's lifespan makes it

    async def close(self) -> None:
        await self.mux.aclose()
        await super().close()

    async def hit(self, i: int, n: int) -> Any:
        keys, args = self.guard(i, n), self.mix.guard_args[i]
        return await self.mux.call(
            ("EVALSHA", self.mix.sha, len(keys), *keys, *args), ("MGET", *self.mix.read_keys[i])
        )

    async def flush(self) -> Any:
        # As the write-behind does it: a redis-py pipeline builds the commands, the mux sends them.
        async with self.client.pipeline(transaction=False) as pipe:
            queue_flush(pipe, self.mix)
            return await self.mux.call(*(args for args, _options in pipe.command_stack))


class RedisPyWidePool(RedisPy):
    label = "redis-py, pipelined, pool 64"

    async def open(self) -> None:
        from shared.redis_client import build_async_client  # noqa: PLC0415
        from shared.settings import get_settings  # noqa: PLC0415

        # One connection per coroutine: separates the client's own cost from waiting on the pool.
        conn = dataclasses.replace(get_settings().conn, max_connections=WIDE_POOL)
        self.client = build_async_client(conn)

    async def flush(self) -> Any:
        raise NotImplementedError  # the same client as the pipelined row


class RedisPyTwoTrips(RedisPy):
    label = "redis-py, 2 round trips (today's route)"

    async def hit(self, i: int, n: int) -> Any:
        keys, args = self.guard(i, n), self.mix.guard_args[i]
        first = await self.client.evalsha(self.mix.sha, len(keys), *keys, *args)  # type: ignore[no-untyped-call]
        return first, await self.client.mget(self.mix.read_keys[i])

    async def flush(self) -> Any:
        raise NotImplementedError  # the same client as the pipelined row


class Glide(Client):
    label = "valkey-glide asyncio, batch"

    async def open(self) -> None:
        from glide import (  # noqa: PLC0415
            Batch,
            GlideClient,
            GlideClientConfiguration,
            NodeAddress,
            StreamAddOptions,
            TrimByMaxLen,
        )

        host, port = self.url.removeprefix("redis://").split(":")
        config = GlideClientConfiguration([NodeAddress(host, int(port))], request_timeout=5000)
        self.client = await GlideClient.create(config)
        self.batch = Batch
        self.xadd_options = StreamAddOptions(
            trim=TrimByMaxLen(exact=False, threshold=self.mix.maxlen)
        )

    async def close(self) -> None:
        await self.client.close()

    async def hit(self, i: int, n: int) -> Any:
        keys = self.guard(i, n)
        batch = self.batch(is_atomic=False)
        # Glide batches have no script call of their own; EVALSHA is sent as a custom command.
        batch.custom_command(
            ["EVALSHA", self.mix.sha, str(len(keys)), *keys, *self.mix.guard_args[i]]
        )
        batch.mget(self.mix.read_keys[i])
        return await self.client.exec(batch, raise_on_error=True)

    async def flush(self) -> Any:
        m, batch = self.mix, self.batch(is_atomic=False)
        fields = list(m.event.items())
        for _ in range(HITS_PER_FLUSH):
            batch.xadd(m.stream, fields, self.xadd_options)
            batch.hincrby(m.stats, "hit:live", 1)
            batch.zincrby(m.hits, 1, "q-0123456789abcdef")
        return await self.client.exec(batch, raise_on_error=True)


class CoRedis(Client):
    label = "coredis, pipeline"

    async def open(self) -> None:
        import coredis  # noqa: PLC0415
        from coredis.tokens import PureToken  # noqa: PLC0415

        host, port = self.url.removeprefix("redis://").split(":")
        self.client = coredis.Redis(
            host=host, port=int(port), max_connections=self.pool, stream_timeout=5.0
        )
        self.context = self.client.__asynccontextmanager__()
        await self.context.__aenter__()
        self.maxlen: Any = PureToken.MAXLEN
        self.approx: Any = PureToken.APPROXIMATELY

    async def close(self) -> None:
        await self.context.__aexit__(None, None, None)

    async def hit(self, i: int, n: int) -> Any:
        async with self.client.pipeline(transaction=False) as pipe:
            guarded = pipe.evalsha(self.mix.sha, self.guard(i, n), self.mix.guard_args[i])
            cached = pipe.mget(self.mix.read_keys[i])
        return await guarded, await cached

    async def flush(self) -> Any:
        m = self.mix
        async with self.client.pipeline(transaction=False) as pipe:
            for _ in range(HITS_PER_FLUSH):
                pipe.xadd(
                    m.stream,
                    m.event,
                    trim_strategy=self.maxlen,
                    threshold=m.maxlen,
                    trim_operator=self.approx,
                )
                pipe.hincrby(m.stats, "hit:live", 1)
                pipe.zincrby(m.hits, "q-0123456789abcdef", 1)
