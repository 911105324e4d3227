"""The effective Celery config: what the worker really runs with, not what we meant to write."""

from __future__ import annotations

from workers import app
from workers.queues import HEAVY, LATENCY


def test_json_only_both_ways() -> None:
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.result_serializer == "json"
    assert list(conf.accept_content) == ["json"]
    assert list(conf.result_accept_content) == ["json"]


def test_reliability_settings() -> None:
    conf = app.conf
    assert conf.worker_prefetch_multiplier == 1
    assert conf.broker_connection_retry_on_startup is True
    assert conf.worker_cancel_long_running_tasks_on_connection_loss is True
    assert conf.worker_soft_shutdown_timeout > 0
    assert conf.worker_max_tasks_per_child >= 1
    assert conf.worker_max_memory_per_child >= 1024
    assert conf.task_reject_on_worker_lost is True


def test_visibility_timeout_agrees_in_all_three_places() -> None:
    conf = app.conf
    vt = conf.visibility_timeout
    assert conf.broker_transport_options["visibility_timeout"] == vt
    assert conf.result_backend_transport_options["visibility_timeout"] == vt
    assert conf.task_time_limit < vt


def test_every_registered_task_has_a_hard_limit_below_visibility() -> None:
    app.loader.import_default_modules()
    vt = app.conf.visibility_timeout
    ours = [t for name, t in app.tasks.items() if not name.startswith("celery.")]
    assert ours
    for task in ours:
        limit = task.time_limit or app.conf.task_time_limit
        assert limit < vt, task.name


def test_two_queues_and_routing() -> None:
    conf = app.conf
    assert {q.name for q in conf.task_queues} == {LATENCY, HEAVY}
    assert app.amqp.router.route({}, "health.probe")["queue"].name == LATENCY
    assert app.amqp.router.route({}, "files.process")["queue"].name == HEAVY


def test_events_follow_the_switch() -> None:
    # conftest turns events off (CELERY_TASK_EVENTS=false); the default is on.
    assert app.conf.worker_send_task_events is False
    assert app.conf.task_send_sent_event is False


def test_beat_uses_the_locking_scheduler() -> None:
    assert app.conf.beat_scheduler.endswith("HeartbeatRedBeatScheduler")
    assert app.conf.redbeat_key_prefix.startswith("t:")


def test_sentinel_broker_gets_credentials_and_tls_for_primary_and_sentinels(
    settings_env,  # type: ignore[no-untyped-def]
) -> None:
    from shared.settings import get_settings, reset_settings  # noqa: PLC0415
    from workers.config import build_config  # noqa: PLC0415

    settings_env.setenv("BROKER_URL", "sentinel://a:26379;sentinel://b:26379/1?master_name=grp")
    settings_env.setenv("REDIS_USERNAME", "app")
    settings_env.setenv("REDIS_PASSWORD", "s3cret/:@")
    settings_env.setenv("REDIS_USE_SSL", "true")
    settings_env.setenv("REDIS_CA_CERT_PATH", "/etc/ca.pem")
    reset_settings()
    config = build_config(get_settings())
    # Each sentinel URL carries the primary's login: kombu uses the one it is connected through.
    assert config["broker_url"] == (
        "sentinel://app:s3cret%2F%3A%40@a:26379;sentinel://app:s3cret%2F%3A%40@b:26379/1"
    )
    assert config["broker_use_ssl"]["ssl_ca_certs"] == "/etc/ca.pem"
    sentinels = config["broker_transport_options"]["sentinel_kwargs"]
    assert (sentinels["username"], sentinels["password"]) == ("app", "s3cret/:@")
    assert (sentinels["ssl"], sentinels["ssl_ca_certs"]) == (True, "/etc/ca.pem")
    settings_env.setenv("REDIS_SENTINEL_AUTH", "false")  # only the primary has a password
    reset_settings()
    sentinels = build_config(get_settings())["broker_transport_options"]["sentinel_kwargs"]
    assert "password" not in sentinels
    assert sentinels["ssl"] is True
