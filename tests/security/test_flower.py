"""Flower requires basic auth (its /metrics too), and refuses to start without it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from embedded_redis import free_port
from tests.fixtures.processes import child_env, spawn_celery, stop_process, wait_for

CONF = ["flower", "--conf=flowerconfig.py"]


def test_flower_without_basic_auth_refuses_to_start(tmp_path: Path) -> None:
    env = child_env(FLOWER_PORT=str(free_port()))
    env.pop("FLOWER_BASIC_AUTH", None)
    proc = spawn_celery(CONF, env, tmp_path / "flower.log")
    try:
        code = proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        stop_process(proc)
        pytest.fail("flower started without FLOWER_BASIC_AUTH")
    assert code != 0
    assert "FLOWER_BASIC_AUTH" in (tmp_path / "flower.log").read_text(errors="replace")


def test_flower_answers_401_without_credentials(tmp_path: Path) -> None:
    port = free_port()
    env = child_env(FLOWER_PORT=str(port), FLOWER_BASIC_AUTH="ops:s3cret-flower")
    proc = spawn_celery(CONF, env, tmp_path / "flower.log")
    url = f"http://127.0.0.1:{port}/"
    try:
        first = wait_for(lambda: httpx.get(url, timeout=2), timeout_s=60, what="flower listens")
        assert first.status_code == 401
        assert httpx.get(url, auth=("ops", "wrong"), timeout=5).status_code == 401
        assert httpx.get(f"{url}api/workers", timeout=5).status_code == 401
        assert httpx.get(url, auth=("ops", "s3cret-flower"), timeout=5).status_code == 200
        # Metrics name workers, tasks and producer processes: the same credentials guard them.
        assert httpx.get(f"{url}metrics", timeout=5).status_code == 401
        assert httpx.get(f"{url}metrics", auth=("ops", "wrong"), timeout=5).status_code == 401
        scraped = httpx.get(f"{url}metrics", auth=("ops", "s3cret-flower"), timeout=5)
        assert scraped.status_code == 200
        assert "flower_" in scraped.text
        assert httpx.get(f"{url}healthcheck", timeout=5).text == "OK"  # liveness stays open
    finally:
        stop_process(proc)
