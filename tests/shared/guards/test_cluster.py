"""The guard scripts on standalone Redis and on a 3-primary cluster: one slot per caller."""

from __future__ import annotations

from typing import Any

from shared import keys
from shared.guards import gcra, sessions
from shared.guards.policies import Charge, Policy


def test_one_call_with_every_guard_works_on_both(data_plane: Any) -> None:
    who = "u.alice"
    sessions.acquire(data_plane, who, "s1", sessions.SessionLimits(2, 60.0))
    charges = [
        Charge(Policy("tokens", 1000, 60.0), keys.rate_limit(who, "tokens"), 300),
        Charge(Policy("minute", 2, 60.0), keys.rate_limit(who, "minute"), 1),
    ]
    res = keys.rate_reservation(who, "r1")
    call = gcra.GuardCall(
        charges,
        session_key=keys.sessions(who),
        session_id="s1",
        reservation_key=res,
        reservation_ttl_ms=60_000,
    )
    first = gcra.check(data_plane, call)
    assert first.allowed
    assert first.session == gcra.SESSION_LIVE
    assert gcra.settle(data_plane, charges[:1], res, 100) == [-200]  # refund 300 - 100
    assert gcra.settle(data_plane, charges[:1], res, 100) is None  # once
    assert gcra.check(data_plane, call).allowed
    third = gcra.check(data_plane, call)
    assert not third.allowed
    assert [r.passes for r in third.results] == [True, False]


def test_sessions_and_sweep_on_both(data_plane: Any) -> None:
    limits = sessions.SessionLimits(2, 60.0)
    for i in range(40):
        sessions.acquire(data_plane, f"u.user{i}", "a", limits)
    assert sessions.heartbeat(data_plane, "u.user3", "a", 60.0) is not None
    assert sessions.release(data_plane, "u.user4", "a")
    report = sessions.sweep(data_plane, batch=9)
    assert (report.users, report.active) == (39, 39)
