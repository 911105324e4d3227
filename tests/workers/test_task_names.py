"""One list of task names: tasks register exactly it, the facade, beat and routing use it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import get_args

from schedules import build_schedule
from shared import task_names
from shared.settings import Settings, all_rows
from workers import app, facade
from workers.queues import LATENCY

ROOT = Path(__file__).resolve().parents[2]


def _registered() -> set[str]:
    app.loader.import_default_modules()
    # Tests register their own tasks (`tests.*`) on the same app; they are not the product's.
    return {name for name in app.tasks if not name.startswith(("celery.", "tests."))}


def test_the_constants_and_the_type_name_the_same_tasks() -> None:
    constants = {v for k, v in vars(task_names).items() if k.isupper() and isinstance(v, str)}
    assert constants == set(task_names.ALL)
    assert len(task_names.ALL) == len(set(task_names.ALL))


def test_every_facade_name_is_a_registered_task_and_every_task_has_a_name() -> None:
    assert set(get_args(facade.TaskName)) == set(task_names.ALL) == _registered()


def test_every_scheduled_task_exists() -> None:
    # Every job switched on, so no entry hides behind a default-off flag.
    flags = {row["env"]: "true" for row in all_rows() if row["env"].endswith("_ENABLED")}
    schedule = build_schedule(Settings.from_env(flags))
    scheduled = {entry["task"] for entry in schedule.values()}
    assert "files.cleanup" in scheduled
    assert scheduled <= _registered()
    assert scheduled <= set(task_names.ALL)


def test_the_latency_queue_gets_the_same_tasks_as_before() -> None:
    latency = {
        name for name in task_names.ALL if app.amqp.router.route({}, name)["queue"].name == LATENCY
    }
    assert latency == {"health.probe", "sessions.sweep", "cache.invalidate"}


def test_the_web_reaches_the_workers_only_through_the_facade() -> None:
    imported: list[str] = []
    for path in (ROOT / "web").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            imported += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.startswith("workers")]
    outside = [line for line in imported if "workers.facade" not in line]
    assert outside == []
