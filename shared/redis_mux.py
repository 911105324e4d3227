"""One auto-pipelined Redis connection per process for the web's request path (standalone only).

redis-py's asyncio client spends ~200 µs of Python per pipelined round trip (pool checkout,
command packing in Python, pipeline bookkeeping); on a cache hit that is a fifth of the
request. Here every coroutine of the process shares ONE connection: `call()` packs its commands
with hiredis (C), appends them to an outgoing buffer that leaves in one write per event-loop
iteration, and awaits a future. The socket's replies go straight to a protocol object that
parses them with hiredis and resolves the futures in the order the commands were written
(Redis answers in order on a connection): no reader task, no stream buffer in between.

What it keeps from redis-py: the connection is made by the client's own pool class with the
same kwargs, so TLS (CA, client certificate, hostname check), ACL username/password, the DB
index, the client name and the connect timeout are exactly the client's. What differs, on
purpose:
- error replies are returned in place as redis-py exceptions (`NoScriptError`, ...), never
  raised, so one bad command cannot desynchronise the others;
- a command is never retried: a lost connection fails every caller waiting on it with
  `ConnectionError` (a guard script may have run; retrying could charge twice), and the next
  call reconnects;
- a reply older than the client's socket timeout drops the connection and fails every waiting
  caller with `TimeoutError` (a half-open socket cannot hang the process).
Only plain request/reply commands belong here: no blocking commands, no pub/sub, no MULTI.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import hiredis
from redis._parsers.base import BaseParser
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.redis_client import AsyncRedisClient

Command = Sequence[str | bytes | int | float]
_MORE = object()


class _Replies(asyncio.Protocol):
    """Takes over the connected socket from redis-py's stream: replies in, futures resolved."""

    def __init__(self, mux: Multiplexer) -> None:
        self.mux = mux
        # A sentinel for "need more data": `False` is also a RESP3 reply.
        self.parser = hiredis.Reader(replyError=BaseParser.parse_error, notEnoughData=_MORE)

    def data_received(self, data: bytes) -> None:
        self.parser.feed(data)
        try:
            while (reply := self.parser.gets()) is not _MORE:
                self.mux._deliver(reply)
        except Exception as exc:  # a protocol error, or a reply that nobody waits for
            self.mux._lost(self, RedisConnectionError(f"bad reply stream: {exc!r}"))

    def eof_received(self) -> bool:
        return False  # close: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else ""
        self.mux._lost(self, RedisConnectionError(f"connection to Redis lost{reason}"))


@dataclass(slots=True)
class _Waiter:
    future: asyncio.Future[list[Any]]
    expected: int
    sent_at: float
    replies: list[Any] = field(default_factory=list)


class Multiplexer:
    """The auto-pipelined connection (see the module docstring). Create it on the loop that uses
    it and `aclose()` it there (the web's lifespan does both)."""

    def __init__(self, client: AsyncRedisClient) -> None:
        self._pool = client.connection_pool
        timeout = self._pool.connection_kwargs.get("socket_timeout")
        self.timeout_s: float | None = float(timeout) if timeout else None
        self._transport: asyncio.WriteTransport | None = None
        self._replies: _Replies | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._connecting: asyncio.Future[None] | None = None
        self._waiters: deque[_Waiter] = deque()
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._watchdog: asyncio.TimerHandle | None = None
        self._closed = False

    async def call(self, *commands: Command) -> list[Any]:
        """Send `commands` back to back and return their replies in order (error replies as
        exception objects). Raises redis `ConnectionError` / `TimeoutError` when the
        connection fails or stalls before every reply arrived."""
        if self._transport is None:
            await self._connect()
            if self._transport is None:  # lost again before this caller resumed: nothing sent
                raise RedisConnectionError("Redis closed the connection right after connecting")
        loop = asyncio.get_running_loop()
        waiter = _Waiter(loop.create_future(), len(commands), time.monotonic())
        # hiredis' stub types the argument as a 1-tuple; it takes any tuple of str/bytes/numbers.
        self._out.extend(hiredis.pack_command(tuple(c)) for c in commands)  # type: ignore[arg-type]
        self._waiters.append(waiter)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        if self._watchdog is None and self.timeout_s:
            self._watchdog = loop.call_later(self.timeout_s, self._watch)
        return await waiter.future

    async def aclose(self) -> None:
        self._closed = True
        self._abort(RedisConnectionError("multiplexer closed"))

    async def _connect(self) -> None:
        if self._closed:
            raise RedisConnectionError("multiplexer closed")
        if self._connecting is None:  # one handshake, however many callers arrive meanwhile
            self._connecting = asyncio.ensure_future(self._open())
        connecting = self._connecting
        try:
            await asyncio.shield(connecting)
        finally:
            if connecting.done():
                self._connecting = None

    async def _open(self) -> None:
        conn: AbstractConnection = self._pool.make_connection()  # type: ignore[no-untyped-call]
        # TLS, AUTH, SELECT, CLIENT SETNAME: the client's own handshake.
        await conn.connect()  # type: ignore[no-untyped-call]
        writer = conn._writer
        assert writer is not None
        transport = writer.transport
        conn._reader = conn._writer = None  # the socket is ours from here on
        if self._closed:
            transport.abort()
            raise RedisConnectionError("multiplexer closed")
        self._replies = _Replies(self)
        transport.set_protocol(self._replies)
        self._transport = transport  # type: ignore[assignment]
        # Kept while the socket is open: a StreamWriter collected before its transport closes
        # closes it (and warns).
        self._writer = writer

    def _flush(self) -> None:
        self._flush_scheduled = False
        out, self._out = self._out, []
        if self._transport is None or not out:
            return  # the connection died after these were queued: _abort failed their callers
        self._transport.writelines(out)

    def _deliver(self, reply: Any) -> None:
        waiter = self._waiters[0]
        waiter.replies.append(reply)
        if len(waiter.replies) == waiter.expected:
            self._waiters.popleft()
            if not waiter.future.done():  # a caller that timed out has cancelled its future
                waiter.future.set_result(waiter.replies)

    def _lost(self, replies: _Replies, error: Exception) -> None:
        if replies is self._replies:  # not a connection this mux already dropped
            self._abort(error)

    def _watch(self) -> None:
        self._watchdog = None
        if not self._waiters or self.timeout_s is None:
            return
        age = time.monotonic() - self._waiters[0].sent_at
        if age >= self.timeout_s:
            self._abort(RedisTimeoutError(f"no reply from Redis within {self.timeout_s:g} s"))
            return
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(self.timeout_s - age, self._watch)

    def _abort(self, error: Exception) -> None:
        """Drop the connection and fail every waiting caller with `error`."""
        transport, self._transport, self._replies = self._transport, None, None
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        waiters, self._waiters = self._waiters, deque()
        self._out = []
        for waiter in waiters:
            if not waiter.future.done():
                waiter.future.set_exception(error)
        if transport is not None:
            transport.abort()  # replies still in flight are void
        self._writer = None
