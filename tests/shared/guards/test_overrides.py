"""Per-user and per-tenant overrides, and their validation at start."""

from __future__ import annotations

import pytest

from shared.guards.overrides import override_for, parse_overrides
from shared.guards.policies import request_policies, token_policies
from shared.settings import SettingsError, get_settings, reset_settings

RAW = (
    '{"users": {"alice": {"minute": {"limit": 1000}}, "bob": {"minute": {"mode": "off"}}},'
    ' "tenants": {"acme": {"minute": {"limit": 50, "window_s": 10}, "tokens": {"mode": "shadow"}}}}'
)


def test_user_entry_wins_over_tenant_entry() -> None:
    assert override_for(RAW, "minute", "alice", "acme") == {"limit": 1000, "window_s": 10}
    assert override_for(RAW, "minute", "carol", "acme") == {"limit": 50, "window_s": 10}
    assert override_for(RAW, "minute", "carol", None) == {}


def test_policies_apply_overrides(settings_env: pytest.MonkeyPatch) -> None:
    settings_env.setenv("RATE_LIMIT_OVERRIDES", RAW)
    reset_settings()
    s = get_settings().guards
    assert [p.limit for p in request_policies(s, "alice", None)] == [1000]
    assert request_policies(s, "bob", None) == ()  # mode off
    assert [p.mode for p in token_policies(s, "carol", "acme")] == ["shadow"]
    assert [p.limit for p in request_policies(s, None, None)] == [s.rate_limit_requests]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{", "not valid JSON"),
        ('{"groups": {}}', "users"),
        ('{"users": {"a": {"minute": {"limit": -1}}}}', "must be > 0"),
        ('{"users": {"a": {"minute": {"limit": true}}}}', "wrong type"),
        ('{"users": {"a": {"minute": {"mode": "loud"}}}}', "expected one of"),
        ('{"users": {"a": {"minute": {"burst": 3}}}}', "unknown field"),
    ],
)
def test_bad_overrides_stop_the_process_naming_the_variable(
    settings_env: pytest.MonkeyPatch, raw: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        parse_overrides(raw)
    settings_env.setenv("RATE_LIMIT_OVERRIDES", raw)
    reset_settings()
    with pytest.raises(SettingsError, match="RATE_LIMIT_OVERRIDES"):
        get_settings()
