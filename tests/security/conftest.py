from tests.faults.conftest import child_env, spawn_celery, stop_process, wait_for

__all__ = ["child_env", "spawn_celery", "stop_process", "wait_for"]
