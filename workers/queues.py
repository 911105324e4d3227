"""Queue names: latency-sensitive work never waits behind heavy work."""

LATENCY = "latency"
HEAVY = "heavy"
ALL = (LATENCY, HEAVY)
