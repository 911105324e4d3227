"""Bounded, resumable SCAN + UNLINK for invalidation: pipelined, and in parallel cursor chains.

Two things make this faster than a plain `SCAN` then `UNLINK` loop while every command stays
short (so other clients keep sub-millisecond latency):

- **One round trip per page**: each round trip carries the UNLINK of the previous page *and* the
  SCAN of the next one.
- **Parallel chains**: a SCAN cursor is a bucket index walked in reverse-binary order (see
  `dictScan` in Redis' dict.c), so the low `k` bits of the cursor stay fixed while the walk
  covers one 1/2^k of the table; they change only when the walk enters the next part. Chain `j`
  starts at the bit-reversal of `j` and stops as soon as those bits change, so 2^k chains on
  their own connections cover the table between them while Redis interleaves their short
  commands; a chain overshoots into its neighbour's part by at most one page (UNLINK is
  idempotent). Used on standalone Redis only: on a cluster, newer servers put the slot number
  in the cursor's low bits, so each primary gets one chain there.

Crash safety: the cursor reported to `on_page` for a chain is one whose pages have all been
unlinked; a run resumed from it re-scans at most one page per chain.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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


@dataclass(frozen=True)
class _Chain:
    name: str  # the ScanState key: `<node>` for one chain, `<node>#<j>/<n>` for chain j of n
    node: RedisClient
    start: int  # first cursor
    low_mask: int  # the chain ends when `cursor & low_mask` differs from `start`


def _reverse_bits(value: int, bits: int) -> int:
    return int(f"{value:0{bits}b}"[::-1], 2) if bits else 0


def chains(client: RedisClient, parallel: int) -> list[_Chain]:
    """The cursor chains covering every primary; `parallel` (a power of two) on standalone."""
    nodes = primaries(client)
    if is_cluster(client) or parallel <= 1:
        return [_Chain(name, node, 0, 0) for name, node in nodes]
    bits = parallel.bit_length() - 1
    if 1 << bits != parallel:
        raise ValueError("parallel chains must be a power of two")
    (name, node) = nodes[0]
    return [
        _Chain(f"{name}#{j}/{parallel}", node, _reverse_bits(j, bits), parallel - 1)
        for j in range(parallel)
    ]


class _Run:
    """Shared state of one sweep across its chains (the callback runs under a lock)."""

    def __init__(
        self,
        state: ScanState,
        counts: SweepCounts,
        on_page: Callable[[ScanState, SweepCounts], None] | None,
    ) -> None:
        self.state, self.counts, self.on_page = state, counts, on_page
        self.lock = threading.Lock()

    def record(self, chain: str, cursor: int | None, scanned: int, unlinked: int) -> None:
        """`cursor` None: the chain is finished."""
        with self.lock:
            self.counts.round_trips += 1
            self.counts.scanned += scanned
            self.counts.unlinked += unlinked
            if cursor is None:
                self.state.done_nodes.add(chain)
                self.state.cursors.pop(chain, None)
            else:
                self.state.cursors[chain] = cursor
            if self.on_page is not None:
                self.on_page(self.state, self.counts)


def _walk(
    run: _Run,
    chain: _Chain,
    *,
    match: str,
    count: int,
    batch: int,
    pause_ms: float,
    doomed: Callable[[bytes], bool] | None,
    cluster: bool,
) -> None:
    cursor: int | None = run.state.cursors.get(chain.name, chain.start)
    pending: list[bytes] = []
    scanned = 0  # keys of the page being unlinked, counted with its round trip
    while True:
        scanning = cursor is not None
        with chain.node.pipeline(transaction=False) as pipe:
            for part in chunked(pending, batch):
                queue_unlink(pipe, part, cluster=cluster)
            if cursor is not None:
                pipe.scan(cursor=cursor, match=match, count=count)
            replies: list[Any] = pipe.execute()
        if not scanning:  # the chain's last UNLINK
            run.record(chain.name, None, scanned, sum(int(n) for n in replies))
            return
        unlinked = sum(int(n) for n in replies[:-1])
        # `cursor` fetched this page and every earlier page is gone: safe to resume from.
        run.record(chain.name, cursor, scanned, unlinked)
        next_cursor, page = replies[-1]
        pending = [k for k in page if doomed is None or doomed(k)]
        scanned = len(page)
        ended = next_cursor == 0 or (next_cursor & chain.low_mask) != chain.start
        cursor = None if ended else next_cursor
        if ended and not pending:
            run.record(chain.name, None, scanned, 0)
            return
        if pause_ms:
            time.sleep(pause_ms / 1000)


def sweep(
    client: RedisClient,
    match: str,
    *,
    count: int,
    batch: int,
    pause_ms: float = 0.0,
    parallel: int = 1,
    doomed: Callable[[bytes], bool] | None = None,
    state: ScanState | None = None,
    counts: SweepCounts | None = None,
    on_page: Callable[[ScanState, SweepCounts], None] | None = None,
) -> tuple[ScanState, SweepCounts]:
    """UNLINK every key matching `match` (and `doomed(key)`) on every primary.

    Args:
        match: a SCAN MATCH pattern, already validated and escaped by the caller.
        count: SCAN COUNT (hash buckets visited per round trip).
        batch: most keys per UNLINK command.
        pause_ms: sleep between a chain's round trips.
        parallel: cursor chains walked at once on standalone Redis (1, 2, 4, ...).
        state: where to resume; updated in place.
        on_page: told the resumable state after each round trip (persist it there); called
            from the chains' threads, one call at a time.
    """
    state = state or ScanState()
    run = _Run(state, counts or SweepCounts(), on_page)
    todo = [c for c in chains(client, parallel) if c.name not in state.done_nodes]
    options: dict[str, Any] = {
        "match": match,
        "count": count,
        "batch": batch,
        "pause_ms": pause_ms,
        "doomed": doomed,
        "cluster": is_cluster(client),
    }
    if len(todo) <= 1 or is_cluster(client):
        for chain in todo:
            _walk(run, chain, **options)
    else:
        with ThreadPoolExecutor(max_workers=len(todo)) as pool:
            for future in [pool.submit(_walk, run, chain, **options) for chain in todo]:
                future.result()
    return state, run.counts
