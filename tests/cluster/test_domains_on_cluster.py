"""Feature domains on the 3-primary cluster, where their own suites run standalone only.

Guards, cache and audit test themselves on the cluster; these add analytics (rollup
conservation, crash between aggregation and ack), the health probe with every domain check,
and file processing (status scripts), each once on standalone and once on the cluster.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from shared import keys
from shared.analytics import rollup
from tests.shared.analytics.helpers import Ev, add_events
from tests.shared.analytics.test_rollup import BASE_S, NOW_S, _settings, check_conservation
from tests.shared.files.helpers import files_root, store_file

__all__ = ["files_root"]


def _events(n: int) -> list[Ev]:
    models = ["gpt-4o", "llama3:8b", "demo"]
    messages = [None, "Hello world", "hello, WORLD!", "What is Redis?"]
    return [
        Ev(
            BASE_S * 1000 + i * 37_000,
            f"user{i % 9}",
            models[i % 3],
            prompt_tokens=i % 50,
            completion_tokens=(i * 7) % 90,
            latency_ms=float(10 + (i * 13) % 900),
            cache_hit=(None, True, False)[i % 3],
            error="Timeout" if i % 17 == 0 else None,
            message=messages[i % 4],
        )
        for i in range(n)
    ]


def test_rollup_conserves_every_event(data_plane: Any) -> None:
    events = _events(240)
    add_events(data_plane, events)
    report = rollup.run(data_plane, _settings(batch_size=50), consumer="c1", now=lambda: NOW_S)
    assert report.events == len(events)
    check_conservation(data_plane, events)


def test_health_probe_with_every_domain_check(data_plane: Any) -> None:
    from shared import health  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415
    from tasks.health import DOMAIN_CHECKS  # noqa: PLC0415

    data_plane.set(keys.beat_heartbeat(), repr(time.time()))
    add_events(data_plane, _events(5))
    report = health.probe(
        data_plane,
        get_settings(),
        depths=lambda: {"latency": 0},
        unacked=lambda: 0,
        ping=lambda: ["w@h"],
        domain_checks=DOMAIN_CHECKS,
    )
    errors = {k: v for k, v in report["checks"].items() if k.endswith(":error")}
    assert not errors, errors  # no domain check raised (e.g. CROSSSLOT) on this plane
    assert len(report["checks"]) > 8


@pytest.mark.parametrize("sql_url", ["sqlite"], indirect=True)
def test_file_processing_status(data_plane: Any, files_root: Path, sql_url: str) -> None:
    from shared.files import documents  # noqa: PLC0415
    from shared.files.process import process_file  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    file_id = store_file(files_root, b"hello cluster\n" * 400)
    assert process_file(data_plane, file_id, get_settings())["status"] == "done"
    fields = data_plane.hgetall(keys.file_status(file_id))
    assert fields[b"status"] == b"done"
    doc = documents.get(file_id)
    assert doc is not None
    assert int(fields[b"chunks"]) == doc.chunk_count
    again = process_file(data_plane, file_id, get_settings())  # a redelivery changes nothing
    assert again["status"] in ("done", "stale")
    assert documents.get(file_id) == doc
