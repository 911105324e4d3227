"""Real-time analytics: the event append (web), the rollup and anomaly detection (beat), reads.

Modules: `events` (event schema, append, parse), `buckets` (time buckets), `histogram`
(mergeable latency histograms), `aggregate` (pure aggregation of a batch), `rollup` (consumer
group, one MULTI/EXEC per batch), `popularity`, `persist` (closed buckets to SQL), `series`
(values of a bucket and the precomputed summary and series), `metrics_stream`, `anomaly`
(detectors), `detect` (the beat job's body), `health` (stream lag check).
"""
