"""Prometheus gauges from the analytics snapshots (registered in web/metrics.SNAPSHOT_METRICS).

Aggregates only: labels are models (known ones, or `other`), message types, metric and detector
names, never users.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from prometheus_client.core import GaugeMetricFamily, Metric

from shared.models_catalog import model_label
from shared.snapshots import Snapshot


def _gauge(name: str, doc: str, value: object) -> GaugeMetricFamily:
    gauge = GaugeMetricFamily(name, doc)
    if isinstance(value, int | float):
        gauge.add_metric([], float(value))
    return gauge


def summary_metrics(snap: Snapshot) -> Iterable[Metric]:
    """Gauges of the `analytics` snapshot (all-time totals, today's and this month's users)."""
    data = snap.data
    yield _gauge(
        "chatbot_messages_total_rolled_up", "Messages rolled up", data.get("messages_total")
    )
    yield _gauge(
        "chatbot_unique_users_today", "Distinct users today (HLL)", data.get("unique_users")
    )
    yield _gauge(
        "chatbot_unique_users_month",
        "Distinct users this month (HLL)",
        data.get("unique_users_month"),
    )
    yield _gauge("chatbot_error_rate", "Errors / messages, all time", data.get("error_rate"))
    yield _gauge(
        "chatbot_app_cache_hit_rate", "Response cache hits / lookups", data.get("cache_hit_rate")
    )
    yield _gauge(
        "chatbot_dead_letters", "Malformed entries dead-lettered", data.get("dead_letters")
    )
    by_model = GaugeMetricFamily("chatbot_model_messages", "Messages per model", labels=["model"])
    tokens = GaugeMetricFamily(
        "chatbot_model_tokens", "Tokens per model and kind", labels=["model", "kind"]
    )
    # The snapshot's models are folded already; folding again here bounds the labels even for a
    # snapshot an older rollup wrote. Counts add up; percentiles cannot, so an unknown model's
    # latency is left out until the next snapshot.
    messages: Counter[str] = Counter()
    kinds: Counter[tuple[str, str]] = Counter()
    for model, n in data.get("by_model", {}).items():
        messages[model_label(model)] += n
    for model, t in data.get("tokens_by_model", {}).items():
        for kind in ("prompt", "completion"):
            kinds[model_label(model), kind] += t[kind]
    for label, n in messages.items():
        by_model.add_metric([label], float(n))
    for (label, kind), n in kinds.items():
        tokens.add_metric([label, kind], float(n))
    latency = GaugeMetricFamily(
        "chatbot_model_latency_ms", "Latency percentile per model", labels=["model", "quantile"]
    )
    for model, pcts in data.get("latency_ms_by_model", {}).items():
        if model_label(model) != model:
            continue
        for q, v in pcts.items():
            if v is not None:
                latency.add_metric([model, q], float(v))
    yield from (by_model, tokens, latency)
    hour = data.get("this_hour", {})
    yield _gauge("chatbot_messages_this_hour", "Messages in the current hour", hour.get("messages"))


def anomaly_metrics(snap: Snapshot) -> Iterable[Metric]:
    """Per watched metric: 1 when anomalous at the last evaluation, and each detector's score."""
    flag = GaugeMetricFamily("chatbot_anomaly", "1 when the metric is anomalous", labels=["metric"])
    score = GaugeMetricFamily(
        "chatbot_anomaly_score", "Detector score (robust sigmas)", labels=["metric", "detector"]
    )
    for metric, row in snap.data.get("metrics", {}).items():
        flag.add_metric([metric], 1.0 if row.get("anomalous") else 0.0)
        for detector, value in row.get("scores", {}).items():
            if value is not None:
                score.add_metric([metric, detector], float(value))
    skipped = GaugeMetricFamily("chatbot_anomaly_skipped", "1 when detection was skipped (guards)")
    skipped.add_metric([], 1.0 if snap.data.get("skipped") else 0.0)
    return [flag, score, skipped]
