"""Upload quotas: what one `POST /files` is charged, per identity, before its body is read.

Two GCRA policies on the caller's `{u:<id>}` buckets (the ones /chat uses), checked together in
one guard round trip: `files` (one unit per upload, FILE_UPLOAD_LIMIT per FILE_UPLOAD_WINDOW)
and `file_bytes` (the upload's size in KiB, FILE_UPLOAD_BYTES_LIMIT per FILE_UPLOAD_WINDOW).
The size is the declared Content-Length; a body without one is charged FILES_MAX_BYTES, the
most it can be, because the charge is decided before streaming starts. Mode, fail mode and the
master switch are the request policies' (RATE_LIMIT_MODE, RATE_LIMIT_FAIL_MODE,
RATE_LIMIT_ENABLED); RATE_LIMIT_OVERRIDES may name `files` and `file_bytes` per user.
"""

from __future__ import annotations

import functools
import math
from dataclasses import replace

from shared.guards.overrides import override_for
from shared.guards.policies import OFF, Charge, Policy, policy_key
from shared.settings import Settings

KIB = 1024


@functools.lru_cache(maxsize=4096)  # settings are frozen: one build per user, not per request
def upload_policies(settings: Settings, user: str | None) -> tuple[Policy, ...]:
    """The upload policies in force for this caller (mode `off` ones excluded)."""
    g, f = settings.guards, settings.files
    if not g.rate_limit_enabled:
        return ()
    mode, fail = g.rate_limit_mode, g.rate_limit_fail_mode
    found = []
    if f.upload_limit:
        found.append(Policy("files", f.upload_limit, f.upload_window_s, mode, fail))
    if f.upload_bytes_limit:
        found.append(
            Policy(
                "file_bytes",
                max(1, f.upload_bytes_limit // KIB),
                f.upload_window_s,
                mode,
                fail,
                "KiB",
            )
        )
    found = [replace(p, **override_for(g.rate_limit_overrides, p.name, user, None)) for p in found]
    return tuple(p for p in found if p.mode != OFF)


def declared_bytes(content_length: str | None, settings: Settings) -> int:
    """The size to charge: the declared Content-Length, else the largest accepted file."""
    raw = content_length or ""
    return int(raw) if raw.isdigit() else settings.files.max_bytes


def upload_charges(
    settings: Settings, identity: str, user: str | None, size_bytes: int
) -> list[Charge]:
    """The charges of one upload of `size_bytes` by `identity` (`user` for overrides)."""
    charges = []
    for p in upload_policies(settings, user):
        cost = 1 if p.unit == "requests" else math.ceil(size_bytes / KIB)
        charges.append(Charge(p, policy_key(identity, p), cost))
    return charges
