"""One lazily created Redis client per process, standalone or Redis Cluster, chosen by the URL.

Celery's prefork pool forks after the parent may have touched Redis. A socket shared across a fork
interleaves replies between processes, so the client is keyed by PID and rebuilt in the child;
redis-py's pool has its own PID check, which we do not rely on alone because RedisCluster's node
pools are created eagerly at construction.
"""

from __future__ import annotations

import os
import threading
from typing import Any, TypeAlias, cast, overload
from urllib.parse import quote, urlsplit, urlunsplit

from redis import BlockingConnectionPool, Redis
from redis.asyncio import BlockingConnectionPool as AsyncBlockingConnectionPool
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.cluster import RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from redis.typing import StreamRangeResponse, XReadGroupResponse, ZSetRangeResponse

from shared.settings import get_settings
from shared.settings.redis import RedisSettings

# RedisCluster implements the same command API as Redis but does not declare it to the type
# checker; one alias keeps call sites honest while `is_cluster()` tells them apart at run time.
RedisClient: TypeAlias = Redis
AsyncRedisClient: TypeAlias = AsyncRedis

# Reply shapes. Every client built here keeps redis-py's defaults decode_responses=False and
# RESP2, so every string in a reply is bytes. redis-py annotates replies as `bytes | str` (stream
# entries as possibly None) because that depends on those run-time options, which it cannot see;
# the helpers below narrow a reply once, where it leaves redis-py. They are casts: no copy, no
# run-time check, no change in behaviour.
StreamEntries: TypeAlias = list[tuple[bytes, dict[bytes, bytes]]]


@overload
def as_bytes(reply: bytes | str) -> bytes: ...
@overload
def as_bytes(reply: bytes | str | None) -> bytes | None: ...
@overload
def as_bytes(reply: list[bytes | str]) -> list[bytes]: ...
@overload
def as_bytes(reply: list[bytes | str | None]) -> list[bytes | None]: ...
def as_bytes(reply: Any) -> Any:
    """A string reply, or a list of them (SCAN, MGET), typed as the bytes it is."""
    return reply


def stream_entries(reply: StreamRangeResponse | None) -> StreamEntries:
    """The entries of an XRANGE/XREVRANGE reply: a list (never nil), each with its fields."""
    return cast(StreamEntries, reply)


def group_entries(reply: XReadGroupResponse) -> StreamEntries:
    """The entries of an XREADGROUP of one stream with id `>`: RESP2 `[[stream, entries]]`.

    New entries always carry their fields (only re-read pending ones can be deleted, nil).
    """
    return cast(StreamEntries, cast("list[list[Any]]", reply)[0][1]) if reply else []


def zset_members(reply: ZSetRangeResponse) -> list[bytes]:
    """The members of a ZRANGE-family reply without scores."""
    return cast("list[bytes]", reply)


def zset_scored(reply: ZSetRangeResponse) -> list[tuple[bytes, float]]:
    """The (member, score) pairs of a ZRANGE-family reply WITHSCORES (default float scores)."""
    return cast("list[tuple[bytes, float]]", reply)


_lock = threading.Lock()
_clients: dict[tuple[int, float | None], RedisClient] = {}


def is_cluster_url(url: str) -> bool:
    return urlsplit(url).scheme.endswith("+cluster")


def uses_tls(url: str, conn: RedisSettings) -> bool:
    return conn.use_ssl or urlsplit(url).scheme.startswith("rediss")


def tls_options(conn: RedisSettings) -> dict[str, Any]:
    """redis-py TLS keyword arguments; certificates are always verified, host names by default."""
    return {
        "ssl_cert_reqs": "required",
        "ssl_ca_certs": conn.ca_cert_path,
        "ssl_certfile": conn.client_cert_path,
        "ssl_keyfile": conn.client_key_path,
        "ssl_check_hostname": conn.tls_check_hostname,
    }


def with_credentials(url: str, conn: RedisSettings) -> str:
    """Put REDIS_USERNAME/REDIS_PASSWORD into a redis or sentinel URL that carries none (kombu)."""
    parts = urlsplit(url)
    if not parts.scheme.startswith(("redis", "sentinel")) or parts.password or not conn.password:
        return url
    user = quote(conn.username or "", safe="")
    netloc = f"{user}:{quote(conn.password, safe='')}@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def _options(
    conn: RedisSettings, url: str, socket_timeout_s: float | None
) -> tuple[str, dict[str, Any]]:
    scheme = urlsplit(url).scheme
    tls = uses_tls(url, conn)
    plain_url = url.replace(scheme + "://", ("rediss" if tls else "redis") + "://", 1)
    timeout_s = socket_timeout_s or conn.timeout_s
    options: dict[str, Any] = {
        "socket_timeout": timeout_s,
        "socket_connect_timeout": min(conn.connect_timeout_s, timeout_s),
        "retry_on_error": [RedisConnectionError, RedisTimeoutError],
        "client_name": f"chatbot-{os.getpid()}",
        "max_connections": conn.max_connections,
    }
    if conn.username:
        options["username"] = conn.username
    if conn.password:
        options["password"] = conn.password
    if tls:
        options.update(tls_options(conn))
    if not is_cluster_url(url):
        options["health_check_interval"] = conn.health_check_interval_s
    return plain_url, options


def build_client(
    conn: RedisSettings, url: str | None = None, *, socket_timeout_s: float | None = None
) -> RedisClient:
    """Build a client from settings; `socket_timeout_s` overrides REDIS_TIMEOUT (request path)."""
    url = url or conn.redis_url
    plain_url, options = _options(conn, url, socket_timeout_s)
    options["retry"] = Retry(ExponentialBackoff(cap=0.5, base=0.02), conn.retries)
    if is_cluster_url(url):
        return cast(RedisClient, RedisCluster.from_url(plain_url, **options))
    # A blocking pool waits (up to the socket timeout) for a free connection when every pooled
    # connection is busy; the default pool raises "Too many connections" under a burst instead.
    pool = BlockingConnectionPool.from_url(plain_url, timeout=options["socket_timeout"], **options)
    return Redis.from_pool(pool)


def build_async_client(
    conn: RedisSettings, url: str | None = None, *, socket_timeout_s: float | None = None
) -> AsyncRedisClient:
    """The asyncio twin of `build_client`, for the web app (one per event loop, via lifespan)."""
    url = url or conn.redis_url
    plain_url, options = _options(conn, url, socket_timeout_s)
    options["retry"] = AsyncRetry(ExponentialBackoff(cap=0.5, base=0.02), conn.retries)
    if is_cluster_url(url):
        return cast(AsyncRedisClient, AsyncRedisCluster.from_url(plain_url, **options))
    pool = AsyncBlockingConnectionPool.from_url(
        plain_url, timeout=options["socket_timeout"], **options
    )
    return AsyncRedis.from_pool(pool)


def get_redis(*, socket_timeout_s: float | None = None) -> RedisClient:
    """The process's data-plane client (one per PID and timeout profile), created on first use."""
    key = (os.getpid(), socket_timeout_s)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = build_client(get_settings().conn, socket_timeout_s=socket_timeout_s)
                _clients[key] = client
    return client


def reset_redis() -> None:
    """Close and forget this process's clients (tests, and settings changes)."""
    with _lock:
        for (pid, _), client in list(_clients.items()):
            if pid == os.getpid():
                client.close()
        _clients.clear()


# Both cluster classes have a Protocol metaclass, whose isinstance check costs ~2 us; the answer
# depends only on the class (a handful per process), and callers ask it on every request.
_cluster_by_class: dict[type, bool] = {}


def is_cluster(client: object) -> bool:
    cls = type(client)
    found = _cluster_by_class.get(cls)
    if found is None:
        found = _cluster_by_class[cls] = issubclass(cls, RedisCluster | AsyncRedisCluster)
    return found
