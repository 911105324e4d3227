"""The dashboard in a real headless Chromium against a real uvicorn: it renders the rollup's data.

Needs Debian's `chromium`: skipped where it is missing, except under CI=true, where `.ci/run`
installs it (or stops before the tests) and a missing browser is a failure. The screenshot is kept
as a test artifact in `tests/artifacts/dashboard.png` (gitignored).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from embedded_redis import free_port
from shared.analytics import rollup, series
from shared.settings import get_settings
from tests.shared.analytics.helpers import Ev, add_events

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
]


@pytest.fixture
def chromium() -> str:
    """The browser binary; requested first, so a missing one skips before uvicorn starts."""
    if CHROMIUM is not None:
        return CHROMIUM
    if os.environ.get("CI") == "true":
        pytest.fail(
            "CI=true requires Debian's chromium (`.ci/run` installs it: apt-get install chromium)"
        )
    pytest.skip(
        "Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)"
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "uvicorn.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "web.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        cwd=ROOT,
        env=dict(os.environ),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, (tmp_path / "uvicorn.log").read_text()
            assert time.monotonic() < deadline, "uvicorn did not start within 30 s"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        log.close()


def _chromium(binary: str, tmp_path: Path, *args: str) -> str:
    done = subprocess.run(
        [binary, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
        capture_output=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done.stdout.decode(errors="replace")


def test_dashboard_renders_the_rolled_up_numbers(
    chromium: str, server: str, r: redis.Redis, tmp_path: Path
) -> None:
    now_ms = int(time.time() * 1000)
    events = [
        Ev(now_ms - 120_000 + i * 1000, f"u{i % 9}", "demo" if i % 3 else "large")
        for i in range(90)
    ]
    add_events(
        r,
        [
            dataclasses.replace(e, latency_ms=40 + i, cache_hit=i % 2 == 0)
            for i, e in enumerate(events)
        ],
    )
    settings = get_settings()
    rollup.run(r, settings.analytics, consumer="test")
    series.write_snapshots(r, settings, extra={})

    url = f"{server}/dashboard?refresh_s=2"
    dom = _chromium(chromium, tmp_path, "--virtual-time-budget=8000", "--dump-dom", url)
    assert re.search(r'id="messages_total">90<', dom), dom[:3000]
    assert re.search(r'id="unique_users">9<', dom)
    assert "demo: 60" in dom
    assert "large: 30" in dom
    assert re.search(r'data-refreshes="[1-9]', dom)
    for chart in ("messages", "tokens", "latency", "hit", "errors", "sessions"):
        found = re.search(rf'id="c-{chart}"[^>]*data-points="(\d+)"', dom) or re.search(
            rf'data-points="(\d+)"[^>]*id="c-{chart}"', dom
        )
        assert found, chart
        assert int(found.group(1)) > 0, chart

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    shot.unlink(missing_ok=True)
    _chromium(
        chromium,
        tmp_path,
        "--window-size=1400,900",
        "--virtual-time-budget=8000",
        "--hide-scrollbars",
        f"--screenshot={shot}",
        url,
    )
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
