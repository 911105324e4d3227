"""Bounded, resumable SCAN + UNLINK for invalidation, one pipelined round trip per page.

Compared with `shared.pipeline.scan_unlink` (SCAN, then UNLINK: two round trips per page), each
round trip here carries the UNLINK of the previous page *and* the SCAN of the next one, which
halves the round trips. Every command stays short (SCAN COUNT and UNLINK batch are bounded), so
other clients keep sub-millisecond latency; `pause_ms` adds pacing on top.

Crash safety: the cursor reported to `on_page` is the one whose page has been fully unlinked;
a run resumed from it re-scans at most one page (UNLINK is idempotent).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.pipeline import ScanState, chunked, primaries, queue_unlink
from shared.redis_client import RedisClient, is_cluster


@dataclass
class SweepCounts:
    round_trips: int = 0
    scanned: int = 0
    unlinked: int = 0

    def to_json(self) -> dict[str, int]:
        return {"round_trips": self.round_trips, "scanned": self.scanned, "unlinked": self.unlinked}


def sweep(
    client: RedisClient,
    match: str,
    *,
    count: int,
    batch: int,
    pause_ms: float = 0.0,
    doomed: Callable[[bytes], bool] | None = None,
    state: ScanState | None = None,
    counts: SweepCounts | None = None,
    on_page: Callable[[ScanState, SweepCounts], None] | None = None,
) -> tuple[ScanState, SweepCounts]:
    """UNLINK every key matching `match` (and `doomed(key)`) on every primary.

    Args:
        match: a SCAN MATCH pattern, already validated and escaped by the caller.
        count: SCAN COUNT (hash slots visited per round trip).
        batch: most keys per UNLINK command.
        pause_ms: sleep between round trips.
        state: where to resume; updated in place.
        on_page: told the resumable state after each round trip (persist it there).
    """
    state = state or ScanState()
    counts = counts or SweepCounts()
    cluster = is_cluster(client)
    for name, node in primaries(client):
        if name in state.done_nodes:
            continue
        cursor = state.cursors.get(name, 0)
        pending: list[bytes] = []
        finished = False
        while not finished:
            with node.pipeline(transaction=False) as pipe:
                for part in chunked(pending, batch):
                    queue_unlink(pipe, part, cluster=cluster)
                if cursor != 0 or not pending:
                    pipe.scan(cursor=cursor, match=match, count=count)
                replies: list[Any] = pipe.execute()
            counts.round_trips += 1
            if cursor == 0 and pending:  # the last page's UNLINK: this node is done
                counts.unlinked += sum(int(n) for n in replies)
                finished = True
                state.done_nodes.add(name)
                state.cursors.pop(name, None)
            else:
                counts.unlinked += sum(int(n) for n in replies[:-1])
                # `cursor` fetched this page and every earlier page is gone: safe to resume from.
                state.cursors[name] = cursor
                cursor, page = replies[-1]
                counts.scanned += len(page)
                pending = [k for k in page if doomed is None or doomed(k)]
                if cursor == 0 and not pending:
                    finished = True
                    state.done_nodes.add(name)
                    state.cursors.pop(name, None)
            if on_page is not None:
                on_page(state, counts)
            if pause_ms and not finished:
                time.sleep(pause_ms / 1000)
    return state, counts
