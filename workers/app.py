"""The Celery app: `celery -A workers worker|beat|flower`.

Tasks are registered explicitly through `include` (autodiscovery finds nothing outside Django).
"""

from __future__ import annotations

from celery import Celery

from shared.settings import exit_on_bad_settings
from workers.config import build_config

TASK_MODULES = [
    "tasks.analytics",
    "tasks.audit",
    "tasks.cache",
    "tasks.files",
    "tasks.guards",
    "tasks.health",
]

app = Celery("chatbot", include=TASK_MODULES)
app.config_from_object(build_config(exit_on_bad_settings()))

import workers.signals  # noqa: E402, F401  (connects logging and after-fork handlers)
