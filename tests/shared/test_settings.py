from __future__ import annotations

import subprocess
import sys

import pytest

from shared.settings import Settings, SettingsError, all_rows, markdown_table
from shared.settings.base import describe


def test_defaults_match_the_design_card() -> None:
    s = Settings.from_env({})
    assert s.conn.max_connections == 20
    assert s.conn.timeout_s == 5.0
    assert s.guards.rate_limit_requests == 100
    assert s.guards.rate_limit_window_s == 60.0
    assert s.guards.max_concurrent_sessions == 5
    assert s.audit.max_events == 10000
    assert s.broker_url == s.conn.redis_url


@pytest.mark.parametrize(
    ("env", "value", "fragment"),
    [
        ("REDIS_TIMEOUT", "abc", "REDIS_TIMEOUT: expected float"),
        ("REDIS_MAX_CONNECTIONS", "0", "REDIS_MAX_CONNECTIONS: must be >= 1"),
        ("RATE_LIMIT_ENABLED", "maybe", "RATE_LIMIT_ENABLED: expected true/false"),
        ("KEY_PREFIX", "a*b", "KEY_PREFIX"),
        ("BROKER_URL", "redis+cluster://x:1", "BROKER_URL: Redis Cluster"),
        ("REDIS_URL", "localhost", "REDIS_URL: expected a URL"),
    ],
)
def test_bad_values_name_the_variable(env: str, value: str, fragment: str) -> None:
    with pytest.raises(SettingsError, match=fragment):
        Settings.from_env({env: value})


def test_tuple_and_optional_settings_parse() -> None:
    s = Settings.from_env({"TRUSTED_PROXIES": "10.0.0.1, 10.1.0.0/16", "REDIS_USERNAME": ""})
    assert s.web.trusted_proxies == ("10.0.0.1", "10.1.0.0/16")
    assert s.conn.username is None


def test_every_setting_is_documented_in_the_readme() -> None:
    with open("README.md", encoding="utf-8") as fh:
        readme = fh.read()
    missing = [row["env"] for row in all_rows() if f"`{row['env']}`" not in readme]
    assert missing == []
    assert markdown_table() in readme, "run `python3 dev.py docs` to refresh the README table"


def test_secrets_have_no_printed_default() -> None:
    rows = {row["env"]: row for row in all_rows()}
    assert rows["REDIS_PASSWORD"]["default"] == "(unset)"
    assert rows["JWT_SECRET"]["default"] == "(unset)"


def test_celery_exits_with_one_line_on_bad_settings() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "workers", "inspect", "ping"],
        env={"REDIS_TIMEOUT": "soon", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode != 0
    assert "configuration error: REDIS_TIMEOUT: expected float, got 'soon'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_each_connection_module_declares_only_its_own_settings() -> None:
    from shared.settings import broker, database, redis  # noqa: PLC0415

    def envs(kind: type) -> set[str]:
        return {row["env"] for row in describe(kind)}

    assert {e for e in envs(redis.RedisSettings) if not e.startswith("REDIS_")} == {"KEY_PREFIX"}
    assert envs(broker.BrokerSettings) == {"BROKER_URL"}
    assert envs(database.DatabaseSettings) == {"DATABASE_URL", "DB_AUTO_CREATE"}
