"""TLS to Redis: the data plane, the broker and the result backend over `rediss://`.

The server (tests/fixtures/tls.py) listens only on TLS with a certificate signed by a CA the
test made. The client verifies it against REDIS_CA_CERT_PATH; an unrelated CA fails closed.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from tests import health_probe
from tests.fixtures.tls import TlsRedis

VERIFY_FAILED = "certificate verify failed"


def test_data_plane_over_tls_verifies_the_server(tls_env: TlsRedis) -> None:
    from shared import runlock  # noqa: PLC0415
    from shared.redis_client import get_redis  # noqa: PLC0415

    client = get_redis()
    conn_kwargs = client.connection_pool.connection_kwargs
    assert conn_kwargs["ssl_cert_reqs"] == "required"
    assert conn_kwargs["ssl_ca_certs"] == str(tls_env.certs.ca)
    client.set("t:over-tls", "yes")
    with runlock.run_lock(client, "tls.demo", ttl_s=10) as lock:  # Lua over TLS
        assert lock.acquired
    assert tls_env.admin().get("t:over-tls") == b"yes"


def test_wrong_ca_fails_closed_with_a_clear_error(
    tls_env: TlsRedis, settings_env: pytest.MonkeyPatch
) -> None:
    from shared.redis_client import get_redis, reset_redis  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415

    settings_env.setenv("REDIS_CA_CERT_PATH", str(tls_env.certs.wrong_ca))
    settings_env.setenv("REDIS_RETRIES", "0")
    reset_settings()
    reset_redis()
    with pytest.raises(RedisConnectionError, match=VERIFY_FAILED):
        get_redis().set("t:never", "written")
    assert tls_env.admin().exists("t:never") == 0


def test_broker_config_requires_certificates(
    tls_env: TlsRedis, reconfigure_app: Callable[[], dict[str, Any]]
) -> None:
    config = reconfigure_app()
    assert config["broker_url"].startswith("rediss://")
    for key in ("broker_use_ssl", "redis_backend_use_ssl", "redbeat_redis_use_ssl"):
        assert config[key]["ssl_cert_reqs"] == ssl.CERT_REQUIRED, key
        assert config[key]["ssl_ca_certs"] == str(tls_env.certs.ca), key


def test_task_round_trip_with_broker_and_backend_over_tls(
    tls_env: TlsRedis,
    reconfigure_app: Callable[[], dict[str, Any]],
    request: pytest.FixtureRequest,
    settings_env: pytest.MonkeyPatch,
) -> None:
    reconfigure_app()
    plain = tls_env.admin(0)
    health_probe.make_healthy(plain, settings_env)
    request.getfixturevalue("worker")  # started after the app points at the TLS broker
    probe = health_probe.probe(plain)  # the snapshot the worker wrote over TLS
    health_probe.assert_passed(probe)
    broker_db = tls_env.admin(1)
    assert broker_db.exists(f"celery-task-meta-{probe.task_id}")  # the result came back over TLS


def test_broker_with_wrong_ca_refuses_to_publish(
    tls_env: TlsRedis,
    settings_env: pytest.MonkeyPatch,
    reconfigure_app: Callable[[], dict[str, Any]],
) -> None:
    from shared.settings import reset_settings  # noqa: PLC0415
    from workers.facade import EnqueueError, enqueue  # noqa: PLC0415

    settings_env.setenv("REDIS_CA_CERT_PATH", str(tls_env.certs.wrong_ca))
    reset_settings()
    reconfigure_app()
    with pytest.raises(EnqueueError) as caught:
        enqueue("health.probe")
    chain = []
    exc: BaseException | None = caught.value
    while exc is not None:
        chain.append(str(exc))
        exc = exc.__cause__ or exc.__context__
    assert any(VERIFY_FAILED in text for text in chain), chain
    assert tls_env.admin(1).dbsize() == 0  # nothing reached the broker


def test_web_readiness_over_tls(tls_env: TlsRedis) -> None:
    from fastapi.testclient import TestClient  # noqa: PLC0415

    from web.app import create_app  # noqa: PLC0415

    with TestClient(create_app()) as client:
        assert client.get("/health/ready").status_code == 200
