"""The audit checks of the health snapshot."""

from __future__ import annotations

import time
from typing import Any

from shared import audit, keys
from shared.audit import archive as audit_archive
from shared.audit import health as audit_health
from shared.audit import verify as audit_verify
from shared.db import get_engine
from shared.health import FAIL, PASS, WARN
from shared.settings import get_settings


def _by_key(checks: list[Any]) -> dict[str, Any]:
    return {c.key: c for c in checks}


def test_fresh_install_passes(r: Any, sql_url: str) -> None:
    checks = _by_key(audit_health.check(r, get_settings(), time.time()))
    assert checks["audit:lastVerification"].status == PASS
    assert checks["audit:newestEventAge"].status == PASS
    assert checks["audit:eventsInRedis"].value == 0


def test_archived_but_never_verified_warns(r: Any, sql_url: str) -> None:
    audit.log_event("x", "alice", {})
    audit_archive.archive_and_trim(r, get_engine(), get_settings())
    check = audit_health.check_verification(get_settings(), time.time())
    assert check.status == WARN
    assert "never verified" in (check.output or "")


def test_lost_stream_tail_warns(r: Any, sql_url: str) -> None:
    audit.log_event("x", "alice", {})
    audit_archive.archive_and_trim(r, get_engine(), get_settings())
    r.delete(keys.audit_stream())
    [check, _] = audit_health.check_newest_event(r, get_settings(), time.time())
    assert check.status == WARN
    assert "lost" in (check.output or "")


def test_fresh_events_and_good_verification_pass(r: Any, sql_url: str) -> None:
    audit.log_event("x", "alice", {})
    audit_archive.archive_and_trim(r, get_engine(), get_settings())
    audit_verify.record(get_engine(), audit_verify.verify_chain(get_engine()))
    checks = _by_key(audit_health.check(r, get_settings(), time.time()))
    assert checks["audit:lastVerification"].status == PASS
    assert checks["audit:newestEventAge"].status == PASS
    assert checks["audit:newestEventAge"].value < 60


def test_logging_stopped_is_a_warning(r: Any, sql_url: str) -> None:
    r.xadd(
        keys.audit_stream(), audit.event_fields("x", "a", {}), id="1000000-0"
    )  # logged at t = 1000 s
    [check, _] = audit_health.check_newest_event(r, get_settings(), now=1000 + 7200.0)
    assert check.status == WARN
    assert "logging stopped" in (check.output or "")
    assert check.value == 7200.0


def test_broken_chain_fails(r: Any, sql_url: str) -> None:
    audit_archive.archive_and_trim(r, get_engine(), get_settings())
    broken = audit_verify.VerifyReport(False, 3, "5-0", "hash mismatch")
    audit_verify.record(get_engine(), broken, now=100.0)
    check = audit_health.check_verification(get_settings(), now=160.0)
    assert check.status == FAIL
    assert "5-0" in (check.output or "")
    assert check.value == 60.0
