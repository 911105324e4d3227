"""audit.trim, audit.verify, audit.purge: thin beat wrappers over `shared/audit_*`."""

from __future__ import annotations

import logging
from typing import Any

from shared import task_names as names
from shared.audit import archive as audit_archive
from shared.audit import retention as audit_retention
from shared.audit import verify as audit_verify
from shared.db import get_engine
from shared.models.audit import ensure_tables
from shared.redis_client import get_redis
from shared.settings import get_settings
from tasks.periodic import periodic_task

log = logging.getLogger(__name__)


@periodic_task(names.AUDIT_TRIM, time_limit_s=300)
def trim() -> dict[str, Any]:
    """Archive the stream to SQL (hash-chained), then trim Redis up to the committed watermark."""
    ensure_tables(get_engine())
    result = audit_archive.archive_and_trim(get_redis(), get_engine(), get_settings())
    return result.as_dict()


@periodic_task(names.AUDIT_VERIFY, time_limit_s=1800)
def verify() -> dict[str, Any]:
    """Recompute the archive's hash chain and record the outcome (health and stats show it)."""
    engine = ensure_tables(get_engine())
    report = audit_verify.verify_chain(engine, batch=get_settings().audit.verify_batch)
    audit_verify.record(engine, report)
    if not report.ok:
        log.error("audit chain broken at %s: %s", report.broken_id, report.reason)
    return report.as_dict()


@periodic_task(names.AUDIT_PURGE, time_limit_s=600)
def purge() -> dict[str, Any]:
    """Delete archived events past AUDIT_RETENTION_DAYS in bounded batches, with checkpoints."""
    ensure_tables(get_engine())
    return audit_retention.purge_expired(get_engine(), get_settings()).as_dict()
