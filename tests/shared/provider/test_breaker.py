"""The per-process circuit breaker, on an injected clock."""

from __future__ import annotations

import pytest

from shared.provider.breaker import Breaker
from shared.provider.errors import ProviderError


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _refused(breaker: Breaker) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        breaker.before()
    return caught.value


def test_opens_after_n_consecutive_failures_only() -> None:
    breaker = Breaker(3, 10.0, Clock())
    for _ in range(2):
        breaker.before()
        breaker.failure()
    breaker.before()
    breaker.success()  # a success in between: the count starts again
    for _ in range(2):
        breaker.before()
        breaker.failure()
    breaker.before()  # still closed: 2 consecutive
    breaker.failure()
    refused = _refused(breaker)
    assert (refused.kind, refused.retry_after_s) == ("circuit_open", 10.0)


def test_after_the_cool_down_one_trial_call_decides() -> None:
    clock = Clock()
    breaker = Breaker(1, 10.0, clock)
    breaker.failure()
    clock.now += 4
    assert _refused(breaker).retry_after_s == pytest.approx(6.0)
    clock.now += 6
    breaker.before()  # the trial call
    assert _refused(breaker).kind == "circuit_open"  # others wait for its outcome
    breaker.failure()  # the trial failed: another full cool-down
    clock.now += 9
    _refused(breaker)
    clock.now += 1
    breaker.before()
    breaker.success()  # the trial succeeded: closed
    breaker.before()
    breaker.before()


def test_a_neutral_outcome_frees_the_trial_without_deciding() -> None:
    clock = Clock()
    breaker = Breaker(1, 10.0, clock)
    breaker.failure()
    clock.now += 10
    breaker.before()
    breaker.neutral()  # e.g. the trial was cancelled by a client that went away
    breaker.before()  # another trial may go
