from __future__ import annotations

from typing import Any

import pytest
import redis

from tests import health_probe


def test_enqueue_by_name_runs_on_a_real_worker(
    worker: Any, r: redis.Redis, settings_env: pytest.MonkeyPatch
) -> None:
    health_probe.make_healthy(r, settings_env)
    probe = health_probe.probe(r)
    health_probe.assert_passed(probe)
    # A Redis broker reports unacked messages; the probe's own was acked before it ran
    # (periodic tasks are not acks_late) and nothing else is in flight.
    assert probe.checks["broker:unacked"][0]["observedValue"] == 0
