from __future__ import annotations

import os

import pytest
from redis.exceptions import RedisClusterException

from shared.redis_client import build_client, get_redis, is_cluster_url, with_credentials
from shared.settings import Settings


def test_one_client_per_process_and_timeout_profile() -> None:
    assert get_redis() is get_redis()
    assert get_redis(socket_timeout_s=0.05) is not get_redis()


def test_client_is_rebuilt_in_a_forked_child() -> None:
    parent = get_redis()
    parent.ping()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's client or its sockets
        os.close(read)
        child = get_redis()
        ok = child is not parent and child.ping()
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)


def test_cluster_url_selects_redis_cluster() -> None:
    conn = Settings.from_env({"REDIS_URL": "redis+cluster://127.0.0.1:1"}).conn
    assert is_cluster_url(conn.redis_url)
    # RedisCluster discovers the slots at construction; nothing listens on port 1.
    with pytest.raises(RedisClusterException):
        build_client(conn)


def test_tls_and_acl_options_come_from_settings() -> None:
    conn = Settings.from_env(
        {
            "REDIS_URL": "redis://h:6380/0",
            "REDIS_USE_SSL": "true",
            "REDIS_CA_CERT_PATH": "/ca.pem",
            "REDIS_USERNAME": "app",
            "REDIS_PASSWORD": "s3cret",
        }
    ).conn
    client = build_client(conn)
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["ssl_ca_certs"] == "/ca.pem"
    assert kwargs["ssl_cert_reqs"] == "required"
    assert kwargs["ssl_check_hostname"] is True
    assert kwargs["username"] == "app"
    assert kwargs["password"] == "s3cret"
    assert client.connection_pool.connection_class.__name__ == "SSLConnection"
    assert with_credentials("redis://h:1/0", conn) == "redis://app:s3cret@h:1/0"
