"""A per-process circuit breaker: a provider that keeps failing is not called for a while.

Closed: calls go through; `failure()` counts consecutive failures. At OPENAI_BREAKER_FAILURES
it opens: `before()` raises `circuit_open` (503 with the time left as Retry-After) without a
call. After the cool-down ONE trial call goes through (half-open); its success closes the
circuit, its failure opens it for another cool-down. 429s and our own 4xx are neither.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from shared.provider.errors import ProviderError


class Breaker:
    def __init__(
        self, failures: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = failures
        self.cooldown_s = cooldown_s
        self.clock = clock
        self.consecutive = 0
        self.open_until = 0.0
        self.probing = False
        self._lock = threading.Lock()  # a worker's threads share the process's breaker

    def before(self) -> None:
        """Let a call through or raise `circuit_open`."""
        with self._lock:
            if self.consecutive < self.threshold:
                return
            left = self.open_until - self.clock()
            if left > 0 or self.probing:
                wait = left if left > 0 else self.cooldown_s
                raise ProviderError("circuit_open", "model provider unavailable", wait)
            self.probing = True  # the one trial call of the half-open state

    def success(self) -> None:
        with self._lock:
            self.consecutive = 0
            self.probing = False

    def failure(self) -> None:
        with self._lock:
            self.consecutive += 1
            self.probing = False
            if self.consecutive >= self.threshold:
                self.open_until = self.clock() + self.cooldown_s

    def neutral(self) -> None:
        """A call that says nothing about the provider's health (429, cancelled, our 4xx)."""
        with self._lock:
            self.probing = False
