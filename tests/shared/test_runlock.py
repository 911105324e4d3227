from __future__ import annotations

from shared import runlock


def test_second_acquire_fails_while_held(r) -> None:  # type: ignore[no-untyped-def]
    with runlock.run_lock(r, "job", 30) as first:
        assert first.acquired
        second = runlock.try_acquire(r, "job", 30)
        assert not second.acquired
        assert not second.release()  # a non-owner cannot release
        assert first.held
    assert not r.exists("t:lock:job")


def test_expired_owner_cannot_release_the_next_owners_lock(r) -> None:  # type: ignore[no-untyped-def]
    old = runlock.try_acquire(r, "job", 30)
    r.delete(old.key)  # the TTL ran out
    new = runlock.try_acquire(r, "job", 30)
    assert new.acquired
    assert not old.release()
    assert not old.extend(60)
    assert new.held


def test_lock_scripts_survive_script_flush(r) -> None:  # type: ignore[no-untyped-def]
    lock = runlock.try_acquire(r, "job", 30)
    assert lock.extend(60)
    r.script_flush()
    assert lock.extend(90)
    assert 60_000 < r.pttl(lock.key) <= 90_000
    assert lock.release()
