"""Data-plane Redis settings: where it is, the key prefix, the pool, timeouts, TLS and ACL."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class RedisSettings:
    redis_url: str = setting(
        "REDIS_URL",
        "redis://127.0.0.1:6379/0",
        "Data-plane Redis. `redis://`, `rediss://` (TLS); `redis+cluster://` or "
        "`rediss+cluster://` selects Redis Cluster.",
    )
    key_prefix: str = setting(
        "KEY_PREFIX", "cb:", "Prefix of every data-plane key; letters, digits, `_-.:` only."
    )
    max_connections: int = setting(
        "REDIS_MAX_CONNECTIONS", 20, "Connection pool size per process.", minimum=1
    )
    timeout_s: float = setting(
        "REDIS_TIMEOUT", 5.0, "Socket read/write timeout.", unit="s", minimum=0.01
    )
    connect_timeout_s: float = setting(
        "REDIS_CONNECT_TIMEOUT", 2.0, "Socket connect timeout.", unit="s", minimum=0.01
    )
    retries: int = setting(
        "REDIS_RETRIES", 2, "Retries (exponential backoff) on connection errors.", minimum=0
    )
    health_check_interval_s: int = setting(
        "REDIS_HEALTH_CHECK_INTERVAL",
        30,
        "PING an idle pooled connection before reuse after this long.",
        unit="s",
        minimum=0,
    )
    use_ssl: bool = setting(
        "REDIS_USE_SSL", False, "Force TLS even for a `redis://` URL (certificates verified)."
    )
    ca_cert_path: str | None = setting(
        "REDIS_CA_CERT_PATH", None, "CA bundle that signs the Redis server certificate."
    )
    tls_check_hostname: bool = setting(
        "REDIS_TLS_CHECK_HOSTNAME",
        True,
        "Check that the server certificate names the host in the URL (off only for IP-only certs).",
    )
    client_cert_path: str | None = setting(
        "REDIS_CLIENT_CERT_PATH", None, "Client certificate for mutual TLS."
    )
    client_key_path: str | None = setting(
        "REDIS_CLIENT_KEY_PATH", None, "Private key of the client certificate.", secret=True
    )
    username: str | None = setting("REDIS_USERNAME", None, "Redis ACL user name.")
    password: str | None = setting(
        "REDIS_PASSWORD", None, "Redis ACL password (also used for the broker).", secret=True
    )
    sentinel_auth: bool = setting(
        "REDIS_SENTINEL_AUTH",
        True,
        "Log in to the Sentinel nodes of a `sentinel://` BROKER_URL with REDIS_USERNAME and "
        "REDIS_PASSWORD too (off when only the primary has a password); TLS follows "
        "REDIS_USE_SSL.",
    )
