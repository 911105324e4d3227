"""Flower's `/metrics` behind the same basic auth as the rest of Flower (imported by flowerconfig).

Flower 2.x serves `/metrics` (worker, task and producer names with process ids) to anyone, even
with basic auth on (mher/flower#1129 removed the check, #1342 asks for it back); there is no
option for it. Wrapping the handler's GET in tornado's `authenticated` puts it behind Flower's
own `get_current_user`, which answers 401 to a missing or wrong `Authorization: Basic`.
`/healthcheck` stays open for liveness probes: it answers only "OK".
"""

from __future__ import annotations

from typing import Any

from flower.views import monitor
from tornado import web

_MARK = "_chatbot_requires_auth"


def protect_metrics() -> None:
    """Require Flower's authentication on `/metrics` (idempotent)."""
    get: Any = monitor.Metrics.get
    if getattr(get, _MARK, False):
        return
    guarded: Any = web.authenticated(get)
    setattr(guarded, _MARK, True)
    monitor.Metrics.get = guarded
