"""How late this process's event loop runs: tells a slow Redis from a busy process.

A guard round trip that outlives GUARD_REDIS_TIMEOUT either waited on Redis or waited in the
loop's queue behind other requests. A ticker wakes every `interval_s`; how late each wake-up
comes is the time the loop spent on other work. If the loop ran late for a large share of the
wait, the timeout measured our own queue: the request is shed (503), never admitted unchecked.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque

_INTERVAL_S = 0.01
_HISTORY = 1024  # ~10 s of ticks on an idle loop, far more than any guard timeout


class LagMonitor:
    def __init__(self, interval_s: float = _INTERVAL_S) -> None:
        self.interval_s = interval_s
        self._ticks: deque[tuple[float, float]] = deque(maxlen=_HISTORY)  # (at, late by)
        self._last = 0.0
        self._task: asyncio.Task[None] | None = None

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
            self._ticks.append((now, max(0.0, now - self._last - self.interval_s)))
            self._last = now

    def late_since(self, since: float) -> float:
        """Seconds the loop ran behind schedule since `since` (monotonic), the current
        overdue tick included; 0 when the monitor is not running (nothing measured)."""
        if not self.running:
            return 0.0
        now = time.monotonic()
        late = 0.0
        for at, by in reversed(self._ticks):
            if at < since:
                break
            late += min(by, at - since)
        return late + max(0.0, now - self._last - self.interval_s)


LAG = LagMonitor()
