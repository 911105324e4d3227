"""Celery broker settings: where the task messages go."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class BrokerSettings:
    broker_url: str = setting(
        "BROKER_URL",
        "",
        "Celery broker (Redis, Sentinel or RabbitMQ; never Redis Cluster). Empty: REDIS_URL.",
    )
