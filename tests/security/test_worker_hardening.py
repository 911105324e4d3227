"""A real worker process under the restricted ACL user, with secrets configured:

- a pickle-serialized message is refused and logged, never executed, and the queue flows on;
- every task it runs needs no more than the ACL user's rights;
- its logs (DEBUG) never contain the Redis password or the JWT secret.
"""

from __future__ import annotations

import pickle
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery.result import AsyncResult

from tests.fixtures.acl import AclUser
from tests.fixtures.processes import child_env, spawn_celery, stop_process, wait_for

JWT_SECRET = "jwt-" + uuid.uuid4().hex * 2


class _Exploit:
    """Unpickling this creates `marker`: proof that a worker deserialized pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.marker,))


@pytest.fixture
def hardened_worker(
    acl_env: AclUser,
    settings_env: pytest.MonkeyPatch,
    reconfigure_app: Callable[[], dict[str, Any]],
    tmp_path: Path,
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    from shared.settings import reset_settings  # noqa: PLC0415
    from workers import app  # noqa: PLC0415

    settings_env.setenv("JWT_SECRET", JWT_SECRET)
    reset_settings()
    reconfigure_app()
    log = tmp_path / "worker.log"
    env = child_env(
        REDIS_USERNAME=acl_env.username,
        REDIS_PASSWORD=acl_env.password,
        JWT_SECRET=JWT_SECRET,
        HEALTH_PING_TIMEOUT="0.5",
    )
    proc = spawn_celery(
        ["worker", "--pool", "threads", "-c", "2", "-n", "hardened@%h", "--loglevel", "DEBUG"],
        env,
        log,
    )
    try:
        try:
            wait_for(
                lambda: _name(log) and app.control.ping(timeout=0.5, destination=[_name(log)]),
                timeout_s=40,
                what="worker answers ping",
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{log.read_text(errors='replace')[-3000:]}") from None
        yield proc, log
    finally:
        stop_process(proc)


def _name(log: Path) -> str | None:
    for line in log.read_text(errors="replace").splitlines():
        if "hardened@" in line and "ready" in line:
            return "hardened@" + line.split("hardened@", 1)[1].split()[0]
    return None


def test_pickle_refused_acl_sufficient_and_no_secret_logged(
    hardened_worker: tuple[subprocess.Popen[bytes], Path], acl_env: AclUser, tmp_path: Path
) -> None:
    from kombu import Connection, Exchange, Producer  # noqa: PLC0415

    from shared.redis_client import get_redis  # noqa: PLC0415
    from workers import app  # noqa: PLC0415
    from workers.facade import enqueue  # noqa: PLC0415

    proc, log = hardened_worker
    marker = tmp_path / "pwned"
    evil_id = str(uuid.uuid4())
    body = pickle.dumps(((_Exploit(marker),), {}, {"callbacks": None, "errbacks": None}))
    with Connection(app.conf.broker_url) as conn:
        Producer(conn).publish(
            body,
            exchange=Exchange("latency"),
            routing_key="latency",
            content_type="application/x-python-serialize",
            content_encoding="binary",
            headers={"task": "health.probe", "id": evil_id, "lang": "py", "argsrepr": "()"},
        )
    # The queue flows on: a JSON task sent after the pickle one completes, under the ACL user.
    result = AsyncResult(enqueue("health.probe"), app=app).get(timeout=30)
    assert result["status"] in ("pass", "warn", "fail")
    assert get_redis().exists("t:snap:health")

    def logged_refusal() -> str | None:
        text = log.read_text(errors="replace")
        return text if "untrusted content" in text else None

    text = wait_for(logged_refusal, timeout_s=10, what="refusal logged")
    assert "Refusing to deserialize untrusted content of type pickle" in text
    assert not marker.exists()
    assert f"Task health.probe[{evil_id}]" not in text  # never received as a task
    assert proc.poll() is None
    for secret in (acl_env.password, JWT_SECRET):
        assert secret not in text
