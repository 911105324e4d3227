"""The worker side with RabbitMQ as the broker (results on the data-plane Redis).

Uses the RabbitMQ at 127.0.0.1:5672 (guest/guest), or TEST_AMQP_URL; skipped when unreachable,
unless CI=true, where it must be there.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests import health_probe

AMQP_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")


def _reachable(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 1):
            return True
    except OSError:
        return False


@pytest.fixture
def amqp_broker(
    settings_env: pytest.MonkeyPatch, reconfigure_app: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    from shared.settings import reset_settings  # noqa: PLC0415
    from workers import app  # noqa: PLC0415

    if not _reachable(AMQP_URL):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true requires RabbitMQ at {AMQP_URL}")
        pytest.skip(f"RabbitMQ not reachable at {AMQP_URL}")
    settings_env.setenv("BROKER_URL", AMQP_URL)
    settings_env.setenv("HEALTH_PING_TIMEOUT", "3")  # a loaded CI machine answers slowly
    reset_settings()
    config = reconfigure_app()
    app.control.purge()  # leftovers of an earlier run on the shared vhost
    return config


def test_config_on_amqp_keeps_results_on_the_data_plane(amqp_broker: dict[str, Any]) -> None:
    assert amqp_broker["broker_url"].startswith("amqp://")
    assert amqp_broker["result_backend"].startswith("redis://")
    assert "broker_use_ssl" not in amqp_broker


def test_health_probe_through_a_real_worker_on_rabbitmq(
    amqp_broker: dict[str, Any],
    request: pytest.FixtureRequest,
    r: Any,
    settings_env: pytest.MonkeyPatch,
) -> None:
    health_probe.make_healthy(r, settings_env)
    request.getfixturevalue("worker")
    probe = health_probe.probe(r)
    health_probe.assert_passed(probe)
    # Queue depths come from AMQP passive declares; "unacked" is a Redis-transport notion.
    assert {"broker:queueDepth:latency", "broker:queueDepth:heavy"} <= set(probe.checks)
    assert "broker:unacked" not in probe.checks


def test_enqueue_to_a_dead_amqp_broker_is_a_bounded_error(
    settings_env: pytest.MonkeyPatch, reconfigure_app: Callable[[], dict[str, Any]]
) -> None:
    from embedded_redis import free_port  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415
    from workers.facade import EnqueueError, enqueue  # noqa: PLC0415

    settings_env.setenv("BROKER_URL", f"amqp://guest:guest@127.0.0.1:{free_port()}//")
    reset_settings()
    reconfigure_app()
    with pytest.raises(EnqueueError, match="broker unavailable"):
        enqueue("health.probe")
