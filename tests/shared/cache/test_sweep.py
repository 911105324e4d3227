"""The parallel SCAN chains cover the whole keyspace, whatever its size and the chain count."""

from __future__ import annotations

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.cache.sweep import chains, sweep
from shared.pipeline import ScanState


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    matching=st.integers(min_value=0, max_value=3000),
    others=st.integers(min_value=0, max_value=3000),
    parallel=st.sampled_from([1, 2, 4, 8]),
    count=st.sampled_from([10, 100, 1000]),
)
def test_every_matching_key_goes_and_no_other(
    r: redis.Redis, matching: int, others: int, parallel: int, count: int
) -> None:
    r.flushdb()
    with r.pipeline(transaction=False) as pipe:
        for i in range(matching):
            pipe.set(f"t:cache:r:g:{i}", b"x")
        for i in range(others):
            pipe.set(f"t:other:{i}", b"x")
        pipe.execute()
    state, counts = sweep(r, "t:cache:r:g:*", count=count, batch=64, parallel=parallel)
    assert counts.unlinked == matching
    assert r.dbsize() == others
    assert state.done_nodes == {c.name for c in chains(r, parallel)}
    assert not state.cursors


def test_chains_start_at_bit_reversed_cursors(r: redis.Redis) -> None:
    assert [c.start for c in chains(r, 4)] == [0, 2, 1, 3]
    assert [c.start for c in chains(r, 1)] == [0]
    with pytest.raises(ValueError, match="power of two"):
        chains(r, 3)


def test_resuming_a_finished_chain_skips_it(r: redis.Redis) -> None:
    for i in range(50):
        r.set(f"t:cache:r:g:{i}", b"x")
    done = ScanState(done_nodes={"standalone#0/2", "standalone#1/2"})
    _, counts = sweep(r, "t:cache:r:g:*", count=10, batch=10, parallel=2, state=done)
    assert counts.round_trips == 0
    assert r.dbsize() == 50
