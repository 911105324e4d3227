"""Celery tasks, one module per domain; each task is a thin wrapper over a function in `shared/`."""
