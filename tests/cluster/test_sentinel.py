"""The broker behind Redis Sentinel: `BROKER_URL=sentinel://...?master_name=<group>`.

Starts a primary and one sentinel that monitors it (private processes, loopback), then runs a
task through a real worker that found its broker by asking the sentinel.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.result import AsyncResult

import embedded_redis
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
) -> None:
    import redis  # noqa: PLC0415

    from shared.settings import reset_settings  # noqa: PLC0415
    from workers import app  # noqa: PLC0415
    from workers.facade import enqueue  # noqa: PLC0415

    settings_env.setenv("BROKER_URL", f"sentinel://127.0.0.1:{sentinel}/1?master_name={GROUP}")
    reset_settings()
    config = reconfigure_app()
    assert config["broker_transport_options"]["master_name"] == GROUP
    request.getfixturevalue("worker")
    result = AsyncResult(enqueue("health.probe"), app=app).get(timeout=30)
    assert result["status"] in ("pass", "warn", "fail")
    # The messages went through the primary the sentinel named (db 1 there holds kombu's keys).
    assert redis.Redis(port=private_redis.port, db=1).exists("_kombu.binding.latency")


APP_USER = "chatbot-app"


def _start_sentinel(conf: Path) -> Any:
    import subprocess  # noqa: PLC0415

    return subprocess.Popen(
        [embedded_redis.server_binary(), str(conf), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def guarded_sentinel(tmp_path: Path) -> Iterator[tuple[int, int, str]]:
    """A primary and a sentinel that both refuse anyone but APP_USER with its password.

    Yields (primary port, sentinel port, password). The `default` user is off on both, so a
    client that forgets the user name or the password is refused (NOAUTH / WRONGPASS).
    """
    import redis  # noqa: PLC0415

    password = "pw-" + secrets.token_hex(12)
    acl = f"{APP_USER} on >{password} ~* &* +@all"
    primary = embedded_redis.start(
        tmp_path / "primary", extra=("--user", *acl.split(), "--user", "default", "off")
    )
    port = embedded_redis.free_port()
    conf = tmp_path / "sentinel.conf"
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {tmp_path}\n"
        f"user {acl}\nuser default off\n"
        f"sentinel monitor {GROUP} 127.0.0.1 {primary.port} 1\n"
        f"sentinel auth-user {GROUP} {APP_USER}\nsentinel auth-pass {GROUP} {password}\n"
        f"sentinel down-after-milliseconds {GROUP} 5000\n"
    )
    proc = _start_sentinel(conf)
    try:
        wait_for(
            lambda: redis.Redis(
                port=port, username=APP_USER, password=password
            ).sentinel_get_master_addr_by_name(GROUP),
            timeout_s=20,
            what="sentinel knows the primary",
        )
        with pytest.raises(redis.AuthenticationError):  # the guard is real
            redis.Redis(port=port).sentinel_get_master_addr_by_name(GROUP)
        yield primary.port, port, password
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        primary.stop()


def test_task_through_a_password_protected_sentinel_deployment(
    guarded_sentinel: tuple[int, int, str],
    settings_env: pytest.MonkeyPatch,
    reconfigure_app: Callable[[], dict[str, Any]],
    request: pytest.FixtureRequest,
) -> None:
    import redis  # noqa: PLC0415

    from shared.redis_client import reset_redis  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415
    from workers import app  # noqa: PLC0415
    from workers.facade import enqueue  # noqa: PLC0415

    primary, sentinel_port, password = guarded_sentinel
    settings_env.setenv("BROKER_URL", f"sentinel://127.0.0.1:{sentinel_port}/1?master_name={GROUP}")
    # The data plane (and so the result backend) is the same guarded primary, db 0.
    settings_env.setenv("REDIS_URL", f"redis://127.0.0.1:{primary}/0")
    settings_env.setenv("REDIS_USERNAME", APP_USER)
    settings_env.setenv("REDIS_PASSWORD", password)
    settings_env.setenv("CELERY_PUBLISH_TIMEOUT", "5")
    reset_settings()
    reset_redis()
    config = reconfigure_app()
    assert config["broker_transport_options"]["sentinel_kwargs"]["username"] == APP_USER
    task_id = enqueue("health.probe")  # before the worker: a refused login fails fast here
    request.getfixturevalue("worker")
    result = AsyncResult(task_id, app=app).get(timeout=30)
    assert result["status"] in ("pass", "warn", "fail")
    guarded = redis.Redis(port=primary, db=1, username=APP_USER, password=password)
    assert guarded.exists("_kombu.binding.latency")
