"""The broker behind Redis Sentinel: `BROKER_URL=sentinel://...?master_name=<group>`.

Starts a primary and one sentinel that monitors it (private processes, loopback), then runs a
task through a real worker that found its broker by asking the sentinel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import embedded_redis
from tests import health_probe
from tests.fixtures.processes import RedisServer, wait_for

GROUP = "broker"


@pytest.fixture
def sentinel(private_redis: RedisServer, tmp_path: Path) -> Iterator[int]:
    import redis  # noqa: PLC0415

    port = embedded_redis.free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"sentinel monitor {GROUP} 127.0.0.1 {private_redis.port} 1\n"
        f"sentinel down-after-milliseconds {GROUP} 5000\n"
    )
    import subprocess  # noqa: PLC0415

    proc = subprocess.Popen(
        [embedded_redis.server_binary(), str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(
            lambda: redis.Redis(port=port).sentinel_get_master_addr_by_name(GROUP),
            timeout_s=20,
            what="sentinel knows the primary",
        )
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_split_sentinel_url() -> None:
    from workers.config import split_sentinel  # noqa: PLC0415

    url = "sentinel://a:26379;sentinel://b:26379/1?master_name=grp"
    assert split_sentinel(url) == ("sentinel://a:26379;sentinel://b:26379/1", "grp")
    assert split_sentinel("redis://h:6379/1") == ("redis://h:6379/1", None)


def test_task_through_a_broker_found_by_sentinel(
    sentinel: int,
    private_redis: RedisServer,
    settings_env: pytest.MonkeyPatch,
    reconfigure_app: Callable[[], dict[str, Any]],
    request: pytest.FixtureRequest,
    r: Any,
) -> None:
    import redis  # noqa: PLC0415

    from shared.settings import reset_settings  # noqa: PLC0415

    settings_env.setenv("BROKER_URL", f"sentinel://127.0.0.1:{sentinel}/1?master_name={GROUP}")
    reset_settings()
    config = reconfigure_app()
    assert config["broker_transport_options"]["master_name"] == GROUP
    health_probe.make_healthy(r, settings_env)
    request.getfixturevalue("worker")
    health_probe.assert_passed(health_probe.probe(r))
    # The messages went through the primary the sentinel named (db 1 there holds kombu's keys).
    assert redis.Redis(port=private_redis.port, db=1).exists("_kombu.binding.latency")
