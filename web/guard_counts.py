"""What the guards count in this process (`/metrics`) and log: decisions per policy x outcome
x mode, session checks, and store incidents (the first failure and the recovery, not every
failed request)."""

from __future__ import annotations

import logging
import threading

from prometheus_client import Counter

from shared.guards import gcra
from shared.guards.gcra import Decision
from shared.guards.policies import Charge, Policy
from web.metrics import REGISTRY

log = logging.getLogger(__name__)

DECISIONS = Counter(
    "chatbot_rate_limit_decisions",
    "Rate-limit decisions per policy, outcome (allowed, rejected, error, shed) and mode",
    ["policy", "outcome", "mode"],
    registry=REGISTRY,
)
SESSION_CHECKS = Counter(
    "chatbot_session_guard",
    "Session guard outcomes (live, lost, error, shed)",
    ["outcome"],
    registry=REGISTRY,
)
_decision_counters: dict[tuple[str, str, str], Counter] = {}


def decided(policy: Policy, outcome: str) -> None:
    """Count one decision (the labelled child is looked up once, not per request)."""
    labels = (policy.name, outcome, policy.mode)
    counter = _decision_counters.get(labels)
    if counter is None:
        counter = _decision_counters[labels] = DECISIONS.labels(*labels)
    counter.inc()


STORE_ERRORS = Counter(
    "chatbot_guard_store_errors", "Guard round trips that failed or timed out", registry=REGISTRY
)


class _Incident:
    """Log the first failure of an outage and the recovery, not every failed request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.failures = 0

    def failed(self, exc: BaseException) -> None:
        STORE_ERRORS.inc()
        with self._lock:
            self.failures += 1
            first = self.failures == 1
        if first:
            log.warning(
                "guard store unavailable (%s); applying each policy's fail mode", type(exc).__name__
            )

    def ok(self) -> None:
        if self.failures:
            with self._lock:
                count, self.failures = self.failures, 0
            if count:
                log.warning("guard store recovered after %d failed guard calls", count)


INCIDENT = _Incident()


def count(
    decision: Decision, token_charges: list[Charge] | None = None, *, only_tokens: bool = False
) -> None:
    """Count per policy x outcome; `token_charges` given: the first that many results are the
    token peeks, counted by `only_tokens=True` (a hit) or by the reservation (a miss)."""
    n = len(token_charges or ())
    results = decision.results[:n] if only_tokens else decision.results[n:]
    for r in results:
        outcome = "allowed" if r.passes else "rejected"
        decided(r.policy, outcome)
    if not only_tokens and decision.session != gcra.SESSION_UNCHECKED:
        SESSION_CHECKS.labels("live" if decision.session == gcra.SESSION_LIVE else "lost").inc()
