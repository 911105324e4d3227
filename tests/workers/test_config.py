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
