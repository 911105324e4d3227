from __future__ import annotations

import pytest

from shared import pipeline


def test_chunked_bounds_every_batch() -> None:
    assert [len(c) for c in pipeline.chunked(range(1001), 500)] == [500, 500, 1]
    with pytest.raises(ValueError, match="chunk size"):
        list(pipeline.chunked([1], 0))


def test_execute_chunked_returns_every_reply_in_order(r) -> None:  # type: ignore[no-untyped-def]
    replies = pipeline.execute_chunked(r, range(1200), lambda p, i: p.incrby("t:n", i), chunk=250)
    assert len(replies) == 1200
    assert replies[-1] == sum(range(1200))


def test_scan_resumes_from_saved_state(r) -> None:  # type: ignore[no-untyped-def]
    r.mset({f"t:k:{i}": 1 for i in range(3000)})
    pages = pipeline.scan_pages(r, "t:k:*", count=200)
    state, first = next(pages)
    saved = pipeline.ScanState.from_json(state.to_json())
    rest = {k for _, page in pipeline.scan_pages(r, "t:k:*", count=200, state=saved) for k in page}
    assert len(rest | set(first)) == 3000
