"""Broker introspection for the health probe: queue depths and unacknowledged messages.

Uses kombu (not Celery) so it works for every broker transport: a passive queue declare answers
the depth on RabbitMQ and, on Redis, kombu sums the priority sub-queues for us.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from kombu.connection import Connection
from kombu.exceptions import ChannelError, OperationalError


def queue_depths(conn: Connection, queues: Iterable[str]) -> dict[str, int]:
    """Messages waiting in each queue (priority sub-queues included); 0 for a queue never used."""
    depths: dict[str, int] = {}
    for queue in queues:
        # A failed passive declare closes an AMQP channel, so each queue gets its own.
        channel = conn.channel()
        try:
            depths[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
        except (ChannelError, OperationalError) as exc:
            if "NOT_FOUND" not in str(exc) and "404" not in str(exc):
                raise
            depths[queue] = 0
        finally:
            channel.close()
    return depths


def unacked_count(conn: Connection) -> int | None:
    """Messages delivered but not yet acknowledged (Redis transport only; None elsewhere)."""
    if conn.transport_cls not in ("redis", "rediss", "sentinel") and not str(
        conn.transport_cls
    ).startswith("redis"):
        return None
    channel: Any = conn.default_channel
    return int(channel.client.hlen(channel.unacked_key))
