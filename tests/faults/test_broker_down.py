"""Broker down while the web enqueues: a clear 503 within a bounded time, never a hang.

A tiny FastAPI route enqueues through `workers.facade.enqueue` (the one way the web triggers
work) and maps `EnqueueError` to 503. The broker (and, as in production, the result backend on
the same Redis) is a private redis-server the test kills, or a socket that never answers.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

from tests.fixtures.processes import RedisServer, figure

pytestmark = pytest.mark.faults
# Generous: a hang (kombu's default retries forever; the result backend retries 20 x 1 s) would
# take far longer. The measured figure is in benchmarks/README.md.
HANG_BOUND_S = 12.0


def _enqueue_app() -> FastAPI:
    from workers.facade import EnqueueError, enqueue  # noqa: PLC0415

    app = FastAPI()

    @app.post("/work")
    def work() -> JSONResponse:
        try:
            task_id = enqueue("health.probe")
        except EnqueueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=503)
        return JSONResponse({"task_id": task_id}, status_code=202)

    return app


def _timed_post(client: TestClient) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    response = client.post("/work")
    return response.status_code, response.json(), time.monotonic() - started


@pytest.fixture
def broker_on(
    settings_env: pytest.MonkeyPatch, reconfigure_app: Callable[[], dict[str, Any]]
) -> Callable[[str], None]:
    from shared.settings import reset_settings  # noqa: PLC0415

    def point(url: str) -> None:
        settings_env.setenv("BROKER_URL", url)
        settings_env.setenv("REDIS_TIMEOUT", "1")
        settings_env.setenv("REDIS_CONNECT_TIMEOUT", "1")
        settings_env.setenv("CELERY_PUBLISH_TIMEOUT", "2")
        reset_settings()
        reconfigure_app()

    return point


def test_killed_broker_gives_503_then_recovers(
    private_redis: RedisServer, broker_on: Callable[[str], None]
) -> None:
    broker_on(f"{private_redis.url}/1")
    with TestClient(_enqueue_app()) as client:
        status, _, _ = _timed_post(client)
        assert status == 202
        private_redis.kill()
        for _ in range(2):  # the second call must not find a wedged producer or result consumer
            status, body, elapsed_s = _timed_post(client)
            assert status == 503, body
            assert "broker unavailable" in body["error"]
            assert elapsed_s < HANG_BOUND_S
            figure("enqueue_503_killed_broker_s", elapsed_s, "s")
        private_redis.start()  # empty, as after a restart without persistence
        status, body, _ = _timed_post(client)
        assert status == 202, body


@pytest.fixture
def silent_broker() -> Iterator[int]:
    """A TCP port that accepts connections and never answers (a hung or blackholed broker)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()


def _returns_within(fn: Callable[[], object], bound_s: float) -> bool:
    """Run `fn` in a daemon thread; False when it is still running after `bound_s` (a hang).

    A hung call is left behind (it ends when the silent broker closes its sockets), so a
    regression fails this test instead of wedging the whole run.
    """
    done = threading.Event()

    def run() -> None:
        try:
            fn()
        except Exception:  # the outcome is checked through the web below
            pass
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    return done.wait(bound_s)


def test_silent_broker_gives_503_within_the_bound(
    silent_broker: int, broker_on: Callable[[str], None]
) -> None:
    from workers.facade import enqueue  # noqa: PLC0415

    broker_on(f"redis://127.0.0.1:{silent_broker}/1")
    assert _returns_within(lambda: enqueue("health.probe"), HANG_BOUND_S), "enqueue hung"
    with TestClient(_enqueue_app()) as client:
        status, body, elapsed_s = _timed_post(client)
    assert status == 503, body
    assert elapsed_s < HANG_BOUND_S
    figure("enqueue_503_silent_broker_s", elapsed_s, "s")


@pytest.mark.parametrize("redis_timeout_s", ["1", "5"])
def test_publish_timeout_bounds_the_whole_enqueue(
    silent_broker: int,
    settings_env: pytest.MonkeyPatch,
    reconfigure_app: Callable[[], dict[str, Any]],
    redis_timeout_s: str,
) -> None:
    """CELERY_PUBLISH_TIMEOUT bounds connect + subscribe + publish, whatever the socket timeouts."""
    from shared.settings import reset_settings  # noqa: PLC0415
    from workers.facade import EnqueueError, enqueue  # noqa: PLC0415

    settings_env.setenv("BROKER_URL", f"redis://127.0.0.1:{silent_broker}/1")
    settings_env.setenv("REDIS_TIMEOUT", redis_timeout_s)
    settings_env.setenv("REDIS_CONNECT_TIMEOUT", redis_timeout_s)
    settings_env.setenv("CELERY_PUBLISH_TIMEOUT", "2")
    reset_settings()
    reconfigure_app()
    for _ in range(2):  # the second call must not wait behind the first one's stuck producer
        started = time.monotonic()
        with pytest.raises(EnqueueError, match="broker unavailable"):
            enqueue("health.probe")
        elapsed_s = time.monotonic() - started
        # A behaviour bound (the setting, plus scheduling slack), not a speed benchmark.
        assert elapsed_s < 2.0 + 1.5, f"enqueue took {elapsed_s:.1f} s with a 2 s bound"
    with TestClient(_enqueue_app()) as client:
        status, body, elapsed_s = _timed_post(client)
    assert status == 503, body
    assert elapsed_s < 2.0 + 1.5
