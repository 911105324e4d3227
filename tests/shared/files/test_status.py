from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import keys
from shared.files import status
from shared.settings import get_settings

FID = "a" * 64
RANK = {status.QUEUED: 0, status.PROCESSING: 1, status.FAILED: 2, status.DONE: 3}


def _view(r) -> dict:  # type: ignore[no-untyped-def]
    found = status.view(r.hgetall(keys.file_status(FID)))
    assert found is not None
    return found


def test_claim_once_then_report_the_live_status(r) -> None:  # type: ignore[no-untyped-def]
    s = get_settings()
    first = status.claim(r, FID, "a.txt", 10, s)
    assert (first.outcome, first.gen, first.previous) == ("claimed", 1, "")
    again = status.claim(r, FID, "a.txt", 10, s)
    assert (again.outcome, again.gen) == ("queued", 1)
    assert _view(r) == {
        "status": "queued",
        "progress": 0,
        "error": None,
        "chunks": None,
        "filename": "a.txt",
        "size_bytes": 10,
    }
    assert 0 < r.ttl(keys.file_status(FID)) <= s.files.status_ttl_s


def test_done_is_never_claimed_again_but_failed_is(r) -> None:  # type: ignore[no-untyped-def]
    s = get_settings()
    gen = status.claim(r, FID, "", 1, s).gen
    status.update(r, FID, gen, status.FAILED, 0, settings=s, error="bad")
    retry = status.claim(r, FID, "", 1, s)
    assert (retry.outcome, retry.gen, retry.previous) == ("claimed", 2, "failed")
    assert _view(r)["error"] is None
    status.update(r, FID, retry.gen, status.DONE, 100, settings=s, chunks=3)
    assert status.claim(r, FID, "", 1, s).outcome == "done"


def test_a_lost_queued_message_can_be_claimed_after_the_stale_window(r) -> None:  # type: ignore[no-untyped-def]
    s = get_settings()
    k, a = status.claim_call(FID, "", 1, s, now_us=1_000_000)
    status.parse_claim(r.evalsha(r.script_load(_lua("file_claim")), len(k), *k, *a))
    stale_us = a[1]
    k, a = status.claim_call(FID, "", 1, s, now_us=1_000_000 + stale_us - 1)
    fresh = status.parse_claim(r.evalsha(r.script_load(_lua("file_claim")), len(k), *k, *a))
    assert fresh.outcome == "queued"
    k, a = status.claim_call(FID, "", 1, s, now_us=1_000_000 + stale_us + 1)
    late = status.parse_claim(r.evalsha(r.script_load(_lua("file_claim")), len(k), *k, *a))
    assert (late.outcome, late.gen) == ("claimed", 2)


def _lua(name: str) -> str:
    from shared.lua import source  # noqa: PLC0415

    return source(name)


def test_start_counts_deliveries_and_fails_poison(r, settings_env) -> None:  # type: ignore[no-untyped-def]
    settings_env.setenv("FILES_MAX_ATTEMPTS", "2")
    from shared.settings import reset_settings  # noqa: PLC0415

    reset_settings()
    s = get_settings()
    gen = status.claim(r, FID, "", 1, s).gen
    assert status.start(r, FID, gen, s) == ("run", gen)
    assert _view(r)["status"] == "processing"
    assert status.start(r, FID, gen, s) == ("run", gen)  # redelivered after a worker died
    assert status.start(r, FID, gen, s) == ("poison", gen)
    assert _view(r)["status"] == "failed"
    assert "gave up after 2 attempts" in (_view(r)["error"] or "")


def test_an_older_generation_cannot_touch_a_newer_claim(r) -> None:  # type: ignore[no-untyped-def]
    s = get_settings()
    old = status.claim(r, FID, "", 1, s).gen
    status.update(r, FID, old, status.FAILED, 0, settings=s, error="x")
    new = status.claim(r, FID, "", 1, s).gen
    assert status.start(r, FID, old, s) == ("stale", new)
    assert not status.update(r, FID, old, status.DONE, 100, settings=s, chunks=1)
    assert _view(r)["status"] == "queued"


def test_start_adopts_the_current_generation_when_the_message_has_none(r) -> None:  # type: ignore[no-untyped-def]
    s = get_settings()
    assert status.start(r, FID, 0, s) == ("run", 1)
    gen = status.claim(r, "b" * 64, "", 1, s).gen
    assert status.start(r, "b" * 64, 0, s) == ("run", gen)


_UPDATES = st.lists(
    st.tuples(
        st.sampled_from([status.PROCESSING, status.DONE, status.FAILED]),
        st.integers(0, 100),
        st.integers(1, 3),
    ),
    max_size=25,
)


@given(updates=_UPDATES)
@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_progress_and_status_never_go_backwards(r, updates) -> None:  # type: ignore[no-untyped-def]
    """Any interleaving of runs (generations 1-3, redelivered or late) only moves forward."""
    s = get_settings()
    r.delete(keys.file_status(FID))
    status.claim(r, FID, "", 1, s)
    before = _view(r)
    before_gen = 1
    for state, pct, gen in updates:
        applied = status.update(r, FID, gen, state, pct, settings=s, error="e", chunks=1)
        after = _view(r)
        after_gen = int(r.hget(keys.file_status(FID), "gen"))
        assert after_gen >= before_gen
        if after_gen == before_gen:
            assert after["progress"] >= before["progress"]
            assert RANK[after["status"]] >= RANK[before["status"]]
        if before["status"] == status.DONE:
            assert not applied
            assert after == before
        before, before_gen = after, after_gen
