from __future__ import annotations

import pytest

from schedules import DOMAINS, build_schedule
from shared.settings import Settings
from workers import app


def test_every_entry_names_a_registered_task_and_expires() -> None:
    app.loader.import_default_modules()
    schedule = build_schedule(Settings.from_env({}))
    assert "health.probe" in schedule
    for name, entry in schedule.items():
        assert entry["task"] in app.tasks, name
        assert entry["options"]["expires"] == pytest.approx(entry["schedule"])


def test_flags_switch_entries_off() -> None:
    schedule = build_schedule(Settings.from_env({"HEALTH_PROBE_ENABLED": "false"}))
    assert "health.probe" not in schedule


def test_duplicate_entry_names_are_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("schedules.DOMAINS", [*DOMAINS, DOMAINS[0]])
    with pytest.raises(ValueError, match="duplicate beat entry"):
        build_schedule(Settings.from_env({}))
