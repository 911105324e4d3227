"""Anomaly detectors over rolled-up series: three robust statistics that must agree.

Each detector returns a signed score (how far the value is from normal, in robust standard
deviations) or None when it abstains (not enough history). `consensus` flags an anomaly only
when at least `min_votes` detectors exceed the threshold in the same direction.

- seasonal robust z: the value against the same hour of the week in earlier weeks
  (median and MAD of those hours);
- EWMA band: an exponentially weighted mean and variance of the recent minutes;
- MAD: the median absolute deviation of the recent minutes (no weighting).

Scales have a floor (a share of the baseline's magnitude) so a perfectly flat history does
not turn the smallest wiggle into an infinite score.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its standard deviation
REL_FLOOR = 0.05
ABS_FLOOR = 1e-6
MIN_SEASONAL_POINTS = 3
MIN_RECENT_POINTS = 10
EWMA_ALPHA = 0.3


def _floor(center: float) -> float:
    return max(REL_FLOOR * abs(center), ABS_FLOOR)


def robust_z(value: float, history: Sequence[float], *, min_points: int) -> float | None:
    """(value - median) / (1.4826 * MAD), with a scale floor; None below `min_points`."""
    if len(history) < min_points:
        return None
    median = statistics.median(history)
    mad = statistics.median(abs(x - median) for x in history)
    return (value - median) / max(MAD_TO_SIGMA * mad, _floor(median))


def seasonal_z(value: float, same_hour_history: Sequence[float]) -> float | None:
    return robust_z(value, same_hour_history, min_points=MIN_SEASONAL_POINTS)


def mad_score(value: float, recent: Sequence[float]) -> float | None:
    return robust_z(value, recent, min_points=MIN_RECENT_POINTS)


def ewma_score(value: float, recent: Sequence[float], alpha: float = EWMA_ALPHA) -> float | None:
    """Distance of `value` from the EWMA of `recent`, in EWMA standard deviations."""
    if len(recent) < MIN_RECENT_POINTS:
        return None
    mean, var = recent[0], 0.0
    for x in recent[1:]:
        diff = x - mean
        incr = alpha * diff
        mean += incr
        var = (1 - alpha) * (var + diff * incr)
    return (value - mean) / max(math.sqrt(var), _floor(mean))


@dataclass(frozen=True)
class Verdict:
    anomalous: bool
    direction: str  # "up" | "down" | ""
    scores: dict[str, float | None]
    votes: int


def consensus(scores: dict[str, float | None], *, threshold: float, min_votes: int) -> Verdict:
    """Anomalous when `min_votes` non-abstaining detectors exceed `threshold` the same way."""
    up = sum(1 for s in scores.values() if s is not None and s >= threshold)
    down = sum(1 for s in scores.values() if s is not None and s <= -threshold)
    votes, direction = (up, "up") if up >= down else (down, "down")
    anomalous = votes >= min_votes and min(up, down) == 0
    return Verdict(anomalous, direction if anomalous else "", scores, votes)


def evaluate(
    value: float,
    recent: Sequence[float],
    same_hour: Sequence[float],
    *,
    threshold: float,
    min_votes: int,
) -> Verdict:
    """Run the three detectors on one value and combine them."""
    scores = {
        "seasonal_z": seasonal_z(value, same_hour),
        "ewma": ewma_score(value, recent),
        "mad": mad_score(value, recent),
    }
    return consensus(scores, threshold=threshold, min_votes=min_votes)
