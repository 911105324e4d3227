"""The effective Celery configuration, built from the settings (asserted in tests/workers)."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from kombu.entity import Exchange, Queue

from schedules import build_schedule
from shared import keys
from shared import task_names as names
from shared.redis_client import tls_options, uses_tls, with_credentials
from shared.settings import Settings
from shared.settings.connections import ConnectionSettings
from workers.queues import ALL, HEAVY, LATENCY

# Tasks that answer people or protect the request path run on the latency queue.
LATENCY_TASKS = (names.HEALTH_PROBE, names.SESSIONS_SWEEP, names.CACHE_INVALIDATE)


def _is_redis(url: str) -> bool:
    return urlsplit(url).scheme in ("redis", "rediss", "sentinel")


def _kombu_ssl(settings: Settings) -> dict[str, Any]:
    conn = settings.conn
    options = tls_options(conn)
    return {
        "ssl_cert_reqs": ssl.CERT_REQUIRED,
        "ssl_ca_certs": options["ssl_ca_certs"],
        "ssl_certfile": options["ssl_certfile"],
        "ssl_keyfile": options["ssl_keyfile"],
    }


def split_sentinel(url: str) -> tuple[str, str | None]:
    """`sentinel://h1:26379;sentinel://h2:26379/1?master_name=broker` → (URL, "broker").

    kombu reads the Sentinel group only from `broker_transport_options["master_name"]`; carrying
    it in BROKER_URL keeps the broker one setting.
    """
    if not url.startswith("sentinel"):
        return url, None
    master = None
    parts = []
    for part in url.split(";"):
        base, _, query = part.partition("?")
        for name, value in parse_qsl(query):
            if name == "master_name":
                master = value
        parts.append(base)
    return ";".join(parts), master


def broker_url_with_credentials(url: str, conn: ConnectionSettings) -> str:
    """BROKER_URL with REDIS_USERNAME/REDIS_PASSWORD, in each `;`-separated sentinel URL.

    kombu logs in to the primary a sentinel names with the credentials of the sentinel URL it is
    using (the first, or the next one after a failover), so every part carries them.
    """
    return ";".join(with_credentials(part, conn) for part in url.split(";"))


def sentinel_kwargs(conn: ConnectionSettings) -> dict[str, Any]:
    """How to reach the Sentinel nodes themselves (redis-py gives them none of the primary's)."""
    found: dict[str, Any] = {
        "socket_timeout": conn.timeout_s,
        "socket_connect_timeout": conn.connect_timeout_s,
    }
    if conn.sentinel_auth and conn.password:
        found["password"] = conn.password
        if conn.username:
            found["username"] = conn.username
    if conn.use_ssl:
        found.update(ssl=True, **tls_options(conn))
    return found


def result_backend_url(settings: Settings) -> str:
    """Results live on the broker's Redis, or on the data plane when the broker is not Redis."""
    broker = settings.broker_url
    if _is_redis(broker) and not broker.startswith("sentinel"):
        return with_credentials(broker, settings.conn)
    return with_credentials(settings.conn.redis_url.replace("+cluster", ""), settings.conn)


def build_config(settings: Settings) -> dict[str, Any]:
    """Every Celery setting we rely on, as one dict for `app.config_from_object`."""
    w = settings.workers
    vt = w.visibility_timeout_s
    broker_url, sentinel_master = split_sentinel(settings.broker_url)
    broker = broker_url_with_credentials(broker_url, settings.conn)
    backend = result_backend_url(settings)
    transport_options: dict[str, Any] = {
        "visibility_timeout": vt,
        "socket_timeout": settings.conn.timeout_s,
        "socket_connect_timeout": settings.conn.connect_timeout_s,
        "retry_on_timeout": True,
        "health_check_interval": settings.conn.health_check_interval_s,
    }
    broker_options = dict(transport_options)
    if sentinel_master:
        broker_options["master_name"] = sentinel_master
        broker_options["sentinel_kwargs"] = sentinel_kwargs(settings.conn)
    publish_retry = {
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    }
    # The Redis result backend subscribes to the task's result channel *before* publishing, with
    # its own retry policy (20 retries, 1 s apart): left alone, a dead Redis makes enqueue hang
    # about 20 s. Bounded here like the publish itself.
    backend_options = {**transport_options, "retry_policy": dict(publish_retry)}
    config: dict[str, Any] = {
        "broker_url": broker,
        "result_backend": backend,
        # Security: JSON only, in both directions; a pickle message is rejected unexecuted.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "event_serializer": "json",
        "timezone": "UTC",
        "enable_utc": True,
        # The visibility timeout is read in three places; they must agree.
        "visibility_timeout": vt,
        "broker_transport_options": broker_options,
        "result_backend_transport_options": backend_options,
        # The result backend's own socket timeouts (Celery defaults: 120 s read, none to
        # connect): a broker that accepts and never answers would hang every enqueue.
        "redis_socket_timeout": settings.conn.timeout_s,
        "redis_socket_connect_timeout": settings.conn.connect_timeout_s,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": settings.workers.publish_timeout_s,
        # The whole enqueue is bounded in workers.facade; this ends a send left waiting for a
        # producer (all in use by sends stuck on a silent broker) at the same bound.
        "broker_pool_acquire_timeout": settings.workers.publish_timeout_s,
        "broker_channel_error_retry": True,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_prefetch_multiplier": 1,
        "worker_max_tasks_per_child": w.max_tasks_per_child,
        "worker_max_memory_per_child": w.max_memory_per_child_kb,
        "worker_soft_shutdown_timeout": 10.0,
        "worker_enable_soft_shutdown_on_idle": True,
        "worker_send_task_events": w.task_events,
        "task_send_sent_event": w.task_events,
        "task_track_started": True,
        "task_time_limit": min(600, vt - 60),
        "task_soft_time_limit": min(540, vt - 90),
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "task_publish_retry_policy": publish_retry,
        "result_expires": w.result_expires_s,
        "result_extended": True,
        "task_default_queue": HEAVY,
        "task_queues": [Queue(q, Exchange(q), routing_key=q) for q in ALL],
        "task_routes": {name: {"queue": LATENCY} for name in LATENCY_TASKS},
        "beat_schedule": build_schedule(settings),
        "beat_scheduler": "workers.beat:HeartbeatRedBeatScheduler",
        "beat_max_loop_interval": 5,
        "redbeat_redis_url": backend,
        "redbeat_key_prefix": keys.redbeat_prefix(),
        "redbeat_lock_key": keys.redbeat_prefix() + "lock",
        "redbeat_lock_timeout": w.beat_lock_timeout_s,
    }
    if uses_tls(broker, settings.conn):
        config["broker_use_ssl"] = _kombu_ssl(settings)
    if uses_tls(backend, settings.conn):
        config["redis_backend_use_ssl"] = _kombu_ssl(settings)
        config["redbeat_redis_use_ssl"] = _kombu_ssl(settings)
    return config
