"""How late this process's event loop runs, and a deadline that measures Redis, not our queue.

A guard round trip that outlives GUARD_REDIS_TIMEOUT either waited on Redis or waited in the
loop's queue behind other requests. A ticker wakes every `interval_s`; how late each wake-up
comes is time the loop spent on other work. `bounded()` charges only the rest to Redis: when
its deadline comes while the loop was lagging, the deadline moves on by the time lost, up to
a cap. A wait that still times out is `Overloaded` (shed with a 503, never admitted unchecked)
when the loop was congested for a quarter of it or more, or when another round trip completed
meanwhile (Redis answers; we queued for a pooled connection). Only a wait on a responsive
loop with no answer from Redis at all is a `TimeoutError`, where each policy's fail mode
applies.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_INTERVAL_S = 0.01
_HISTORY = 1024  # ~10 s of ticks on an idle loop, far more than any guard timeout
_CAP = 4  # a lagging loop may stretch a deadline to this many times the timeout, then sheds
_CAP_MIN_S = 1.0
_OURS = 0.25  # the share of a timed-out wait the loop spent congested that makes it an overload
_answered_at = 0.0  # when a bounded round trip last completed (monotonic)


class Overloaded(TimeoutError):
    """A round trip outlived its deadline because this process's event loop lagged: the time
    went to our own queue, not to Redis. Shed the request (503); never fail open for it."""


@dataclass(eq=False, slots=True)
class _Wait:
    """One `bounded` call in progress: the task to cancel when its deadline comes."""

    task: asyncio.Task[Any]
    started: float
    timeout_s: float
    verdict: TimeoutError | None = None  # set when the monitor ended the wait

    def expire(self, now: float, late: float) -> bool:
        """End the wait if Redis has had its time (or the cap came); True when it did."""
        on_redis = (now - self.started) - late
        cap_at = self.started + max(_CAP * self.timeout_s, _CAP_MIN_S)
        if on_redis < self.timeout_s and now < cap_at:
            return False
        # Ours, not Redis's, when the loop was congested for a real share of the wait, or when
        # Redis answered another call meanwhile: shed rather than admit unchecked.
        ours = late >= (now - self.started) * _OURS or _answered_at > self.started
        self.verdict = Overloaded() if ours else TimeoutError()
        self.task.cancel()
        return True


class LagMonitor:
    def __init__(self, interval_s: float = _INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._ticks: deque[tuple[float, float]] = deque(maxlen=_HISTORY)  # (at, late by)
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None
        self.waits: set[_Wait] = set()  # the `bounded` calls in progress on this loop

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._last = time.monotonic()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            now = time.monotonic()
            self._ticks.append((now, self._lost(now - self._last)))
            self._last = now
            self._expire(now)

    def _expire(self, now: float) -> None:
        # Only a wait older than its timeout can have given Redis that much time.
        for wait in [w for w in self.waits if now - w.started >= w.timeout_s]:
            if wait.verdict is None and wait.expire(now, self.late_since(wait.started)):
                self.waits.discard(wait)

    def _lost(self, gap: float) -> float:
        # A tick late by a whole interval or more means the loop was congested for the whole
        # gap (a reply arriving in it would have waited too); a little late is jitter.
        late = gap - self.interval_s
        return gap if late >= self.interval_s else max(0.0, late)

    def late_since(self, since: float) -> float:
        """Seconds the loop was congested since `since` (monotonic), the current overdue
        tick included; 0 when the monitor is not running (nothing measured)."""
        if not self.running:
            return 0.0
        now = time.monotonic()
        late = min(self._lost(now - self._last), now - since)
        for at, lost in reversed(self._ticks):
            if at < since:
                break
            late += min(lost, at - since)
        return late


LAG = LagMonitor()


async def bounded(awaitable: Awaitable[T], timeout_s: float, monitor: LagMonitor = LAG) -> T:
    """Await `awaitable` until Redis has had `timeout_s` of the loop's attention.

    The running monitor checks every waiting call on its tick (no timer per call: this is on
    every guarded request) and cancels the calling task when its deadline came; without a
    running monitor the deadline is a plain `timeout_s`.

    Raises:
        TimeoutError: the wait beyond the loop's lag reached `timeout_s` on a loop that was
            responsive for most of it (Redis is slow or away).
        Overloaded: it timed out (or reached the cap) while the loop was congested for a
            quarter of the wait or more, or while Redis answered another bounded call.
    """
    global _answered_at  # noqa: PLW0603  (one float per process, written on the loop's thread)
    if not monitor.running:
        async with asyncio.timeout(timeout_s):
            return await awaitable
    task = asyncio.current_task()
    assert task is not None
    wait = _Wait(task, time.monotonic(), timeout_s)
    monitor.waits.add(wait)
    try:
        result = await awaitable
    except asyncio.CancelledError:
        if wait.verdict is None or task.uncancel() > 0:
            raise  # cancelled by someone else: not ours to turn into a timeout
        raise wait.verdict from None
    finally:
        monitor.waits.discard(wait)
    _answered_at = time.monotonic()
    return result
