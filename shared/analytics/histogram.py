"""Mergeable latency histograms: log-spaced bins, so per-bucket counts simply add up.

A latency of `ms` falls in bin `floor(log(ms) / log(GROWTH))` (bin 0 holds everything under
1 ms). A percentile is read back as the geometric middle of its bin, so the relative error is
at most `sqrt(GROWTH) - 1` (about 2.5 % with GROWTH = 1.05). Buckets of any granularity merge
by adding counts per bin (HINCRBY), which a sorted list of samples could never do.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

GROWTH = 1.05
_LOG_GROWTH = math.log(GROWTH)
RELATIVE_ERROR = math.sqrt(GROWTH) - 1
PERCENTILES = (50, 95, 99)


def bin_of(latency_ms: float) -> int:
    """The bin of a latency in milliseconds (0 for anything below 1 ms)."""
    if latency_ms < 1.0:
        return 0
    return int(math.log(latency_ms) / _LOG_GROWTH) + 1


def value_of(bin_index: int) -> float:
    """The representative latency (ms) of a bin: the geometric middle of its bounds."""
    if bin_index <= 0:
        return 0.5
    low = GROWTH ** (bin_index - 1)
    return low * math.sqrt(GROWTH)


def merge(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    """The bin-wise sum of several histograms."""
    total: dict[int, int] = {}
    for hist in histograms:
        for idx, n in hist.items():
            total[idx] = total.get(idx, 0) + n
    return total


def percentile(hist: Mapping[int, int], pct: float) -> float | None:
    """The `pct` percentile (nearest rank) in ms, or None for an empty histogram."""
    count = sum(hist.values())
    if count <= 0:
        return None
    rank = max(1, math.ceil(pct / 100 * count))
    seen = 0
    for idx in sorted(hist):
        seen += hist[idx]
        if seen >= rank:
            return value_of(idx)
    return value_of(max(hist))
