"""Two beat processes at once: every periodic job is still sent once per interval.

RedBeat's scheduler lock keeps the second beat on standby; the run-lock in `periodic_task`
guards the task itself. The test counts the sends in both beats' logs over several intervals,
then SIGKILLs the active beat and sees the standby one take over.
"""

from __future__ import annotations

import itertools
import re
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.processes import (
    RedisServer,
    child_env,
    figure,
    spawn_celery,
    stop_process,
    wait_for,
)

pytestmark = pytest.mark.faults
INTERVAL_S = 1.0
WINDOW_S = 6.0
SEND = re.compile(
    r"^\[(?P<at>[\d-]+ [\d:,]+): INFO/\w+\] Scheduler: Sending due task (?P<entry>\S+)"
)


def _sends(log: Path) -> list[tuple[float, str]]:
    found = []
    for line in log.read_text(errors="replace").splitlines():
        m = SEND.match(line)
        if m:
            at = datetime.strptime(m["at"], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            found.append((at, m["entry"]))
    return found


@pytest.fixture
def env(
    private_redis: RedisServer,
    settings_env: pytest.MonkeyPatch,
    reconfigure_app: Callable[[], dict[str, Any]],
) -> dict[str, str]:
    from shared.settings import reset_settings  # noqa: PLC0415

    values = {
        "REDIS_URL": f"{private_redis.url}/0",
        "BROKER_URL": f"{private_redis.url}/1",
        "HEALTH_PROBE_INTERVAL": str(int(INTERVAL_S)),
        "HEALTH_PING_TIMEOUT": "0.3",
        "BEAT_LOCK_TIMEOUT": "5",
    }
    for name, value in values.items():
        settings_env.setenv(name, value)
    reset_settings()
    reconfigure_app()
    return child_env(**values)


@pytest.fixture
def beats(env: dict[str, str], tmp_path: Path) -> Iterator[list[tuple[Any, Path]]]:
    worker = spawn_celery(
        ["worker", "--pool", "threads", "-c", "2", "-n", "beats@%h", "--loglevel", "INFO"],
        env,
        tmp_path / "worker.log",
    )
    started: list[tuple[Any, Path]] = []
    try:
        for name in ("a", "b"):
            log = tmp_path / f"beat-{name}.log"
            started.append((spawn_celery(["beat", "--loglevel", "INFO"], env, log), log))
            wait_for(lambda log=log: "beat: Starting" in log.read_text(), timeout_s=30)
            if name == "a":
                wait_for(lambda log=log: _sends(log), timeout_s=30, what="first beat sends")
        yield started
    finally:
        for proc, _ in started:
            stop_process(proc)
        stop_process(worker)


def test_two_beats_send_each_job_once_per_interval(beats: list[tuple[Any, Path]]) -> None:
    (proc_a, log_a), (proc_b, log_b) = beats
    window_start = time.time()
    time.sleep(WINDOW_S)  # observe several intervals with both beats alive
    window_end = time.time()
    assert proc_a.poll() is None
    assert proc_b.poll() is None
    sends = [s for s in _sends(log_a) + _sends(log_b) if window_start <= s[0] <= window_end]
    by_entry: dict[str, list[float]] = defaultdict(list)
    for at, entry in sorted(sends):
        by_entry[entry].append(at)
    probes = by_entry["health.probe"]
    assert len(probes) >= WINDOW_S / INTERVAL_S - 2  # the job really ran every interval...
    assert len(probes) <= WINDOW_S / INTERVAL_S + 1  # ...and not twice per interval
    for entry, times in by_entry.items():
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert all(g >= 0.5 * INTERVAL_S for g in gaps), (entry, gaps)
    assert not [s for s in _sends(log_b) if window_start <= s[0] <= window_end]  # b is standby

    # The active beat dies without releasing its lock: the standby takes over after the TTL.
    killed_at = time.time()
    proc_a.send_signal(signal.SIGKILL)
    proc_a.wait(timeout=10)
    wait_for(
        lambda: [s for s in _sends(log_b) if s[0] > killed_at],
        timeout_s=30,
        what="standby beat takes over",
    )
    figure("standby_beat_takeover_s", time.time() - killed_at, "s")
