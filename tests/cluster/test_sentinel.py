"""The broker behind Redis Sentinel: `BROKER_URL=sentinel://...?master_name=<group>`.

Starts a primary and one sentinel that monitors it (private processes, loopback), then runs a
task through a real worker that found its broker by asking the sentinel.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import embedded_redis
from tests import health_probe
from tests.fixtures.processes import RedisServer, wait_for
from tests.fixtures.tls import Certs, make_certs

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


APP_USER = "chatbot-app"


@dataclass(frozen=True)
class Guarded:
    """A primary and its sentinel that refuse anyone but APP_USER (and, with TLS, plain TCP)."""

    primary: int
    sentinel: int
    password: str
    certs: Certs | None

    def client(self, port: int, **login: Any) -> Any:
        import redis  # noqa: PLC0415

        tls: dict[str, Any] = {}
        if self.certs is not None:
            tls = {"ssl": True, "ssl_ca_certs": str(self.certs.ca), "ssl_cert_reqs": "required"}
        return redis.Redis(host="127.0.0.1", port=port, **tls, **login)


def _tls_lines(certs: Certs | None, port: int) -> list[str]:
    """Config lines for a TLS-only server on `port`, or a plain one."""
    if certs is None:
        return [f"port {port}"]
    return [
        "port 0",
        f"tls-port {port}",
        f"tls-cert-file {certs.server_cert}",
        f"tls-key-file {certs.server_key}",
        f"tls-ca-cert-file {certs.ca}",
        "tls-auth-clients no",
        "tls-replication yes",  # the sentinel reaches the primary over TLS too
    ]


@pytest.fixture(params=["plain", "tls"])
def guarded_sentinel(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Guarded]:
    """A primary and a sentinel that both refuse anyone but APP_USER with its password.

    The `default` user is off on both, so a client that forgets the user name or the password is
    refused (NOAUTH / WRONGPASS); with `tls`, both listen only on TLS ports.
    """
    import subprocess  # noqa: PLC0415

    import redis  # noqa: PLC0415

    certs = make_certs(tmp_path / "certs") if request.param == "tls" else None
    password = "pw-" + secrets.token_hex(12)
    acl = f"user {APP_USER} on >{password} ~* &* +@all"
    primary_port, sentinel_port = embedded_redis.free_port(), embedded_redis.free_port()
    primary_conf = tmp_path / "primary.conf"
    primary_lines = [*_tls_lines(certs, primary_port), acl, "user default off"]
    primary_conf.write_text("\n".join([*primary_lines, f"dir {tmp_path}", 'save ""']) + "\n")
    sentinel_conf = tmp_path / "sentinel.conf"
    sentinel_conf.write_text(
        "\n".join(
            [
                *_tls_lines(certs, sentinel_port),
                "bind 127.0.0.1",
                f"dir {tmp_path}",
                acl,
                "user default off",
                f"sentinel monitor {GROUP} 127.0.0.1 {primary_port} 1",
                f"sentinel auth-user {GROUP} {APP_USER}",
                f"sentinel auth-pass {GROUP} {password}",
                f"sentinel down-after-milliseconds {GROUP} 5000",
            ]
        )
        + "\n"
    )
    binary = embedded_redis.server_binary()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [
        subprocess.Popen([binary, str(primary_conf), "--bind", "127.0.0.1"], **quiet),  # type: ignore[call-overload]
        subprocess.Popen([binary, str(sentinel_conf), "--sentinel"], **quiet),  # type: ignore[call-overload]
    ]
    found = Guarded(primary_port, sentinel_port, password, certs)
    try:
        login = {"username": APP_USER, "password": password}
        wait_for(
            lambda: found.client(sentinel_port, **login).sentinel_get_master_addr_by_name(GROUP),
            timeout_s=20,
            what="sentinel knows the primary",
        )
        with pytest.raises(redis.AuthenticationError):  # the guard is real
            found.client(sentinel_port).sentinel_get_master_addr_by_name(GROUP)
        yield found
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(timeout=10)


def test_task_through_a_guarded_sentinel_deployment(
    guarded_sentinel: Guarded,
    settings_env: pytest.MonkeyPatch,
    reconfigure_app: Callable[[], dict[str, Any]],
    request: pytest.FixtureRequest,
) -> None:
    """Password (and TLS) on the primary and the sentinels: a task makes the round trip."""
    from celery.result import AsyncResult  # noqa: PLC0415

    from shared.redis_client import reset_redis  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415
    from workers import app  # noqa: PLC0415
    from workers.facade import enqueue  # noqa: PLC0415

    g = guarded_sentinel
    settings_env.setenv("BROKER_URL", f"sentinel://127.0.0.1:{g.sentinel}/1?master_name={GROUP}")
    # The data plane (and so the result backend) is the same guarded primary, db 0.
    scheme = "redis" if g.certs is None else "rediss"
    settings_env.setenv("REDIS_URL", f"{scheme}://127.0.0.1:{g.primary}/0")
    settings_env.setenv("REDIS_USERNAME", APP_USER)
    settings_env.setenv("REDIS_PASSWORD", g.password)
    if g.certs is not None:
        settings_env.setenv("REDIS_USE_SSL", "true")
        settings_env.setenv("REDIS_CA_CERT_PATH", str(g.certs.ca))
    settings_env.setenv("CELERY_PUBLISH_TIMEOUT", "5")
    data_plane = g.client(g.primary, username=APP_USER, password=g.password, db=0)
    health_probe.make_healthy(data_plane, settings_env)
    data_plane.close()
    reset_settings()
    reset_redis()
    reconfigure_app()
    task_id = enqueue("health.probe")  # before the worker: a refused login fails fast here
    request.getfixturevalue("worker")
    assert AsyncResult(task_id, app=app).get(timeout=30) == {"status": "pass"}
    login = {"username": APP_USER, "password": g.password, "db": 1}
    assert g.client(g.primary, **login).exists("_kombu.binding.latency")
