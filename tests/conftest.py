"""Test fixtures: a private Redis server, SQLite and (when reachable) PostgreSQL, a Celery worker.

The environment is fixed in `pytest_configure`, before any project module reads its settings:
a redis-server started for this run (or TEST_REDIS_URL, which the tests may flush), the data
plane on DB 0, the broker on DB 1, a SQLite file under a temporary folder. Every test starts
from empty Redis databases.
"""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

pytest_plugins = (
    "celery.contrib.pytest",
    "tests.fixtures.sql",
    "tests.fixtures.celery",
    "tests.fixtures.tls",
    "tests.fixtures.cluster",
    "tests.fixtures.acl",
    "tests.fixtures.broker",
    "tests.fixtures.processes",
    "tests.fixtures.web_server",
    "tests.fixtures.openai_server",
)

# Helpers that assert on behalf of several test modules: show the values when they fail.
pytest.register_assert_rewrite("tests.health_probe")

_STATE: dict[str, object] = {}


def pytest_configure(config: pytest.Config) -> None:
    import embedded_redis  # noqa: PLC0415  (after pytest has set up sys.path)

    tmp = Path(tempfile.mkdtemp(prefix="chatbot-tests-"))
    _STATE["tmp"] = tmp
    base = os.environ.get("TEST_REDIS_URL")
    if not base:
        server = embedded_redis.start(tmp / "redis")
        _STATE["server"] = server
        base = server.url
    base = base.rstrip("/").rsplit("/", 1)[0] if base.count("/") > 2 else base
    os.environ.update(
        {
            "REDIS_URL": f"{base}/0",
            "BROKER_URL": f"{base}/1",
            "DATABASE_URL": f"sqlite:///{tmp / 'test.sqlite3'}",
            "KEY_PREFIX": "t:",
            "JWT_SECRET": "test-secret-" + "x" * 32,
            "CELERY_TASK_EVENTS": "false",
            # Tests write snapshots and read them back at once; the web micro-cache is tested
            # on its own (tests/web/test_snapshot_cache.py).
            "WEB_SNAPSHOT_CACHE_TTL": "0",
            # The models the tests count by name; any other is folded into `other`
            # (tests/web/test_model_labels.py runs with the default list).
            "KNOWN_MODELS": "demo,small,large,m1,m2",
            # In-process apps (TestClient) share this process with every other test: freezing
            # its objects would keep test garbage from the collector. The served web process
            # (tests/fixtures/web_server.py) runs with the default, as production does.
            "WEB_GC_FREEZE": "false",
        }
    )
    _STATE["base"] = base


def pytest_unconfigure(config: pytest.Config) -> None:
    server = _STATE.get("server")
    if server is not None:
        server.stop()  # type: ignore[attr-defined]
    shutil.rmtree(str(_STATE.get("tmp", "")), ignore_errors=True)


@pytest.fixture(scope="session")
def redis_base_url() -> str:
    """`redis://host:port` of the test server (no database index)."""
    return str(_STATE["base"])


@pytest.fixture(autouse=True)
def _clean_state(redis_base_url: str) -> Iterator[None]:
    """Empty Redis and fresh per-process clients and settings around every test."""
    from shared.redis_client import reset_redis  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415

    admin = redis.Redis.from_url(f"{redis_base_url}/0")
    admin.flushall()
    reset_settings()
    reset_redis()
    yield
    reset_settings()
    reset_redis()
    admin.flushall()
    admin.close()
    # What a test left to the collector (an unclosed file, transport or event loop) warns here,
    # failing that test instead of whichever later test the collector happens to run in.
    gc.collect()


@pytest.fixture
def r() -> redis.Redis:
    """The data-plane client the code under test uses."""
    from shared.redis_client import get_redis  # noqa: PLC0415

    client = get_redis()
    assert isinstance(client, redis.Redis)
    return client


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Change settings for one test: `settings_env.setenv(...)`; caches are reset around it."""
    from shared.redis_client import reset_redis  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415

    yield monkeypatch
    reset_settings()
    reset_redis()
