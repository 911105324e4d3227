"""health.probe runs every domain's `shared/<domain>/health.py:check`, one convention for all."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from shared import health

SHARED = Path(__file__).resolve().parents[2] / "shared"
DOMAIN_KEY_PREFIXES = ("analytics", "audit", "cache", "sessions")


def test_every_domain_health_module_exposes_check_and_the_probe_runs_it() -> None:
    from tasks.health import DOMAIN_CHECKS  # noqa: PLC0415

    # shared/settings/health.py declares the HEALTH_* settings: a section, not a domain.
    domains = sorted(
        p.parent.name for p in SHARED.glob("*/health.py") if p.parent.name != "settings"
    )
    assert domains == ["analytics", "audit", "cache", "guards", "provider"]
    checks = [importlib.import_module(f"shared.{d}.health").check for d in domains]
    assert list(DOMAIN_CHECKS) == checks


def test_domain_checks_keep_the_snapshot_keys(r: Any, sql_url: str) -> None:
    from shared.settings import get_settings  # noqa: PLC0415
    from tasks.health import DOMAIN_CHECKS  # noqa: PLC0415

    report = health.probe(
        r,
        get_settings(),
        depths=lambda: {},
        unacked=lambda: 0,
        ping=lambda: [],
        domain_checks=DOMAIN_CHECKS,
    )
    domain_keys = [k for k in report["checks"] if k.split(":")[0] in DOMAIN_KEY_PREFIXES]
    assert domain_keys == [
        "analytics:streamLag",
        "audit:lastVerification",
        "audit:newestEventAge",
        "audit:eventsInRedis",
        "cache:hitRate",
        "sessions:activeSessions",
    ]
