"""Typed, frozen settings read once from the environment and validated at start.

`get_settings()` is the only entry point; each domain owns one section (a frozen dataclass in this
package). A bad value raises `SettingsError` naming the variable; `exit_on_bad_settings()` turns
that into the one-line exit used by every process entry point.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from shared.settings.analytics import AnalyticsSettings
from shared.settings.audit import AuditSettings
from shared.settings.base import SettingsError, describe, load_section
from shared.settings.cache import CacheSettings
from shared.settings.connections import ConnectionSettings
from shared.settings.files import FilesSettings
from shared.settings.guards import GuardSettings
from shared.settings.health import HealthSettings
from shared.settings.provider import ProviderSettings
from shared.settings.regions import RegionSettings
from shared.settings.schedule import ScheduleSettings
from shared.settings.web import WebSettings
from shared.settings.workers import WorkerSettings

__all__ = ["Settings", "SettingsError", "exit_on_bad_settings", "get_settings", "reset_settings"]

_SECTIONS: dict[str, type[Any]] = {
    "conn": ConnectionSettings,
    "workers": WorkerSettings,
    "schedule": ScheduleSettings,
    "health": HealthSettings,
    "guards": GuardSettings,
    "web": WebSettings,
    "audit": AuditSettings,
    "cache": CacheSettings,
    "analytics": AnalyticsSettings,
    "files": FilesSettings,
    "regions": RegionSettings,
    "provider": ProviderSettings,
}
# The names POST /chat accepts as a model.
_MODEL_NAME = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_ALLOWED_PREFIX_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.:")


@dataclass(frozen=True)
class Settings:
    conn: ConnectionSettings
    workers: WorkerSettings
    schedule: ScheduleSettings
    health: HealthSettings
    guards: GuardSettings
    web: WebSettings
    audit: AuditSettings
    cache: CacheSettings
    analytics: AnalyticsSettings
    files: FilesSettings
    regions: RegionSettings
    provider: ProviderSettings

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Settings:
        """Parse and validate every section; raises `SettingsError` on the first bad value."""
        sections = {name: load_section(kind, environ) for name, kind in _SECTIONS.items()}
        settings = cls(**sections)
        settings._check()
        return settings

    @property
    def broker_url(self) -> str:
        return self.conn.broker_url or self.conn.redis_url.replace("+cluster", "")

    def _check(self) -> None:
        prefix = self.conn.key_prefix
        if not prefix or not set(prefix) <= _ALLOWED_PREFIX_CHARS:
            raise SettingsError(f"KEY_PREFIX: letters, digits and _-.: only, got {prefix!r}")
        if "+cluster" in self.broker_url.split("://", 1)[0]:
            raise SettingsError("BROKER_URL: Redis Cluster cannot be a Celery broker")
        for env, url in (("REDIS_URL", self.conn.redis_url), ("BROKER_URL", self.broker_url)):
            if "://" not in url:
                raise SettingsError(f"{env}: expected a URL such as redis://host:6379/0")
        if self.health.memory_warn_ratio > self.health.memory_fail_ratio:
            raise SettingsError("HEALTH_MEMORY_WARN_RATIO: must not exceed the fail ratio")
        for model in self.analytics.known_models:
            if not _MODEL_NAME.fullmatch(model):
                raise SettingsError(f"KNOWN_MODELS: letters, digits and ._:- only, got {model!r}")
        _ = self.regions.brokers  # parsed once here, so a bad REGION_BROKERS stops the start
        if self.web.responder == "openai" and not self.provider.api_key:
            # The client refuses to start without one; say so at start, not on the first chat.
            raise SettingsError(
                "OPENAI_API_KEY: required by CHAT_RESPONDER=openai (any value for a local server)"
            )


@functools.cache
def get_settings() -> Settings:
    """The process-wide settings, read from `os.environ` on first use."""
    return Settings.from_env(os.environ)


_derived: list[Callable[[], None]] = []
F = TypeVar("F", bound=Callable[..., Any])


def derived(memo: F) -> F:
    """Mark an `functools.lru_cache` memo of values derived from the settings (key prefix,
    policies): `reset_settings` clears it too, so a memo never outlives the settings it read."""
    _derived.append(memo.cache_clear)  # type: ignore[attr-defined]
    return memo


def reset_settings() -> None:
    """Forget the cached settings (tests change the environment between cases) and every
    memo derived from them."""
    get_settings.cache_clear()
    for clear in _derived:
        clear()


def exit_on_bad_settings() -> Settings:
    """Load the settings or stop the process with one line naming the bad variable."""
    try:
        return get_settings()
    except SettingsError as exc:
        _die(f"configuration error: {exc}")


def _die(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(2)


def all_rows() -> list[dict[str, Any]]:
    """Every setting with its default, unit and description, section by section."""
    return [row for kind in _SECTIONS.values() for row in describe(kind)]


def markdown_table() -> str:
    """The README's settings table, generated from the declarations (kept in sync by a test)."""
    lines = ["| variable | default | unit | meaning |", "|---|---|---|---|"]
    for row in all_rows():
        default = row["default"]
        if isinstance(default, tuple):
            default = ",".join(default) or "(empty)"
        elif default is None or default == "":
            default = "(empty)"
        lines.append(f"| `{row['env']}` | `{default}` | {row['unit']} | {row['doc']} |")
    return "\n".join(lines)
