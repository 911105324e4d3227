"""REGION and REGION_BROKERS: validated together at start, the error naming the variable."""

from __future__ import annotations

import subprocess
import sys

import pytest

from shared.settings import Settings, SettingsError

TWO = '{"eu": "redis://127.0.0.1:1/1", "us": "redis://127.0.0.1:2/1"}'


def test_single_region_by_default() -> None:
    s = Settings.from_env({})
    assert s.regions.region == "local"
    assert s.regions.brokers == {}
    assert not s.regions.multi
    assert s.regions.others == {}
    assert s.regions.names == ["local"]


def test_every_region_parses_and_the_others_exclude_this_one() -> None:
    s = Settings.from_env({"REGION": "eu", "REGION_BROKERS": TWO})
    assert s.regions.multi
    assert s.regions.names == ["eu", "us"]
    assert s.regions.others == {"us": "redis://127.0.0.1:2/1"}


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"REGION_BROKERS": "{not json"}, "REGION_BROKERS: not valid JSON"),
        ({"REGION_BROKERS": '["eu"]'}, "REGION_BROKERS: expected a non-empty JSON object"),
        ({"REGION_BROKERS": "{}"}, "REGION_BROKERS: expected a non-empty JSON object"),
        ({"REGION": "eu", "REGION_BROKERS": '{"us": "redis://h:1"}'}, "REGION_BROKERS: this"),
        ({"REGION_BROKERS": TWO}, r"this region \('local', from REGION\) is missing"),
        ({"REGION": "eu", "REGION_BROKERS": '{"eu": 3}'}, "needs a broker URL"),
        ({"REGION": "eu", "REGION_BROKERS": '{"eu": "nohost"}'}, "needs a broker URL"),
        ({"REGION": "e u"}, "REGION: letters"),
        ({"REGION": "eu", "REGION_BROKERS": '{"eu": "redis+cluster://h:1"}'}, "Cluster"),
    ],
)
def test_bad_region_settings_name_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env(env)


def test_the_error_never_shows_a_broker_url() -> None:
    secret = '{"us": "redis://:hunter2@h:1"}'
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"REGION": "eu", "REGION_BROKERS": secret})
    assert "hunter2" not in str(caught.value)


def test_a_worker_with_this_region_missing_stops_at_start_with_one_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "workers", "inspect", "ping"],
        env={"REGION": "eu", "REGION_BROKERS": '{"us": "redis://h:1"}', "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "configuration error: REGION_BROKERS: this region ('eu'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_outbox_is_scheduled_only_with_regions() -> None:
    from schedules import build_schedule  # noqa: PLC0415

    assert "cache.deliver_outbox" not in build_schedule(Settings.from_env({}))
    env = {"REGION": "eu", "REGION_BROKERS": TWO, "CACHE_OUTBOX_INTERVAL": "3"}
    entry = build_schedule(Settings.from_env(env))["cache.deliver_outbox"]
    assert entry == {"task": "cache.deliver_outbox", "schedule": 3.0, "options": {"expires": 3.0}}
