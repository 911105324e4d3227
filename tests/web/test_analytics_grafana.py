"""The shipped Grafana dashboard queries only series that /metrics really exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import redis
from fastapi.testclient import TestClient

from shared.analytics import detect, rollup, series
from shared.settings import get_settings
from tests.shared.analytics.helpers import Ev, add_events

DASHBOARD = Path(__file__).resolve().parents[2] / "docs" / "grafana" / "analytics.json"
_FUNCTIONS = {"deriv", "sum", "by", "rate"}


def test_every_dashboard_series_is_exposed(client: TestClient, r: redis.Redis) -> None:
    import time  # noqa: PLC0415

    add_events(r, [Ev(int(time.time() * 1000), "u", "demo", cache_hit=True)])
    settings = get_settings()
    rollup.run(r, settings.analytics, consumer="t")
    series.write_snapshots(r, settings, extra={})
    detect.detect(r, settings)
    exposed = set(re.findall(r"^# TYPE (\S+)", client.get("/metrics").text, re.MULTILINE))
    dashboard = json.loads(DASHBOARD.read_text())
    queried = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            queried |= {
                name
                for name in re.findall(r"[a-z_]+(?=[{\[ )]|$)", target["expr"])
                if name.startswith("chatbot_")
            }
    assert queried
    missing = queried - exposed - {"chatbot_health_observed_value"}  # written by health.probe
    assert not missing, missing
