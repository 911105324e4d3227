"""Celery app, config, signals, beat scheduler and the facade chatbot code uses to trigger tasks."""

from workers.app import app

__all__ = ["app"]
