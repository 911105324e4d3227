"""The guard deadline measures Redis, not the event loop's queue (web.loop_lag.bounded)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from web.loop_lag import LagMonitor, Overloaded, bounded

T = TypeVar("T")


def _with_monitor(body: Callable[[LagMonitor], Awaitable[T]]) -> T:
    async def run() -> T:
        monitor = LagMonitor()
        monitor.start()
        await asyncio.sleep(0.05)
        try:
            return await body(monitor)
        finally:
            await monitor.stop()

    return asyncio.run(run())


async def _reply_after(delay_s: float) -> str:
    await asyncio.sleep(delay_s)
    return "reply"


def test_a_reply_delayed_by_a_busy_loop_is_not_a_timeout() -> None:
    async def body(monitor: LagMonitor) -> tuple[str, float]:
        loop = asyncio.get_running_loop()
        loop.call_soon(time.sleep, 0.4)  # the loop is busy elsewhere for 0.4 s
        started = time.monotonic()
        got = await bounded(_reply_after(0.45), 0.1, monitor)  # Redis itself took ~0.05 s
        return got, time.monotonic() - started

    got, waited = _with_monitor(body)
    assert got == "reply"
    assert waited > 0.1  # past the nominal deadline, admitted because the queue took it


def test_a_slow_store_on_a_responsive_loop_times_out() -> None:
    async def body(monitor: LagMonitor) -> float:
        started = time.monotonic()
        with pytest.raises(TimeoutError) as raised:
            await bounded(_reply_after(5), 0.1, monitor)
        assert not isinstance(raised.value, Overloaded)
        return time.monotonic() - started

    # Gave up after the deadline, long before the 5 s reply (slack for a loaded machine).
    assert 0.1 <= _with_monitor(body) < 4.0


def test_a_loop_that_stays_congested_is_overloaded_at_the_cap() -> None:
    async def body(monitor: LagMonitor) -> float:
        loop = asyncio.get_running_loop()
        stop = time.monotonic() + 3

        def hog() -> None:  # 60 ms of CPU per loop pass, for 3 s
            time.sleep(0.06)
            if time.monotonic() < stop:
                loop.call_soon(hog)

        loop.call_soon(hog)
        started = time.monotonic()
        with pytest.raises(Overloaded):
            await bounded(_reply_after(10), 0.1, monitor)
        return time.monotonic() - started

    # Waited until the cap (1 s), not the nominal 0.1 s, and not for the 10 s reply.
    assert 0.9 <= _with_monitor(body) < 5.0


def test_without_a_monitor_the_deadline_is_plain() -> None:
    async def body() -> None:
        with pytest.raises(TimeoutError):
            await bounded(_reply_after(5), 0.05, LagMonitor())

    asyncio.run(body())


def test_a_timeout_while_redis_answered_others_is_ours() -> None:
    """Redis answered another call meanwhile: the wait was a queue (e.g. for a pooled
    connection), not a store failure."""

    async def body(monitor: LagMonitor) -> None:
        stuck = asyncio.ensure_future(bounded(_reply_after(5), 0.1, monitor))
        assert await bounded(_reply_after(0.02), 0.1, monitor) == "reply"
        with pytest.raises(Overloaded):
            await stuck

    _with_monitor(body)
