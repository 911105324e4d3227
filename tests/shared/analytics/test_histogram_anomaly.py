"""Latency histograms (mergeable, bounded error) and the anomaly detectors (consensus)."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from shared.analytics import anomaly, histogram
from tests.shared.analytics.helpers import nearest_rank

latencies = st.lists(st.floats(min_value=1.0, max_value=100_000.0), min_size=1, max_size=300)


def _hist(values: list[float]) -> dict[int, int]:
    hist: dict[int, int] = {}
    for v in values:
        idx = histogram.bin_of(v)
        hist[idx] = hist.get(idx, 0) + 1
    return hist


# Load, not arithmetic: bin_of is monotone, so a percentile's bin is the bin of the exact
# nearest-rank value, and 63,000 random examples plus every bin edge (+/- 200 ulps) stay within
# 1e-15 of RELATIVE_ERROR. Hypothesis' only clock left with deadline=None is too_slow, which
# times input generation in wall-clock time and so counts the time a loaded machine takes the
# CPU away; print_blob makes a real failure replayable with @reproduce_failure.
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
@given(latencies, latencies)
@example([1.0], [1.0])  # the lowest latency sits on a bin's lower edge: error == the bound
@example([4201.168891171333], [1.0])  # the closest to the bound found (by 9.9e-16)
def test_percentiles_of_merged_histograms_are_within_the_bin_error(
    a: list[float], b: list[float]
) -> None:
    merged = histogram.merge([_hist(a), _hist(b)])
    assert merged == _hist(a + b)
    for pct in histogram.PERCENTILES:
        exact = nearest_rank(a + b, pct)
        got = histogram.percentile(merged, pct)
        assert got is not None
        assert abs(got - exact) / exact <= histogram.RELATIVE_ERROR + 1e-9


def test_empty_histogram_has_no_percentile() -> None:
    assert histogram.percentile({}, 50) is None
    assert histogram.bin_of(0.2) == 0


FLAT = [100.0 + (i % 5) for i in range(60)]


def test_a_spike_is_flagged_by_consensus() -> None:
    verdict = anomaly.evaluate(400.0, FLAT, [101.0, 99.0, 103.0, 100.0], threshold=3.5, min_votes=2)
    assert verdict.anomalous
    assert verdict.direction == "up"
    assert verdict.votes == 3


def test_a_drop_is_flagged_down() -> None:
    verdict = anomaly.evaluate(5.0, FLAT, [], threshold=3.5, min_votes=2)
    assert verdict.anomalous
    assert verdict.direction == "down"
    assert verdict.scores["seasonal_z"] is None  # abstains without history


def test_one_detector_alone_is_not_enough() -> None:
    # Recent minutes are flat, but the same hour last weeks was far higher: only seasonal fires.
    verdict = anomaly.evaluate(102.0, FLAT, [500.0, 510.0, 490.0], threshold=3.5, min_votes=2)
    assert verdict.scores["seasonal_z"] is not None
    assert verdict.scores["seasonal_z"] < -3.5
    assert not verdict.anomalous


def test_too_little_history_abstains() -> None:
    verdict = anomaly.evaluate(1e6, [1.0, 2.0], [1.0], threshold=3.5, min_votes=1)
    assert verdict.votes == 0
    assert not verdict.anomalous


@settings(max_examples=80, deadline=None)
@given(
    st.floats(min_value=1.0, max_value=1e4),
    st.lists(st.floats(min_value=-0.02, max_value=0.02), min_size=60, max_size=60),
)
def test_noise_within_two_percent_never_alerts(level: float, noise: list[float]) -> None:
    history = [level * (1 + n) for n in noise]
    verdict = anomaly.evaluate(history[-1], history[:-1], history[:4], threshold=3.5, min_votes=2)
    assert not verdict.anomalous
    assert all(s is None or math.isfinite(s) for s in verdict.scores.values())
