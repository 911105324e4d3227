"""The audit migration builds exactly the tables the models declare."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.command import downgrade, upgrade
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from shared.db import get_engine
from shared.models.audit import CHECKPOINTS, EVENTS, STATE

ROOT = Path(__file__).resolve().parents[3]


def test_upgrade_matches_models_and_downgrade_removes(sql_url: str) -> None:
    engine = get_engine()
    for table in (CHECKPOINTS, STATE, EVENTS):
        table.drop(engine)
    config = Config(str(ROOT / "alembic.ini"))
    upgrade(config, "audit@head")
    audit_only = MetaData()
    for table in (EVENTS, STATE, CHECKPOINTS):
        table.to_metadata(audit_only)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": lambda name, kind, _: kind != "table" or name.startswith("audit_")
            },
        )
        assert compare_metadata(context, audit_only) == []
    downgrade(config, "audit@base")
    assert not {"audit_events", "audit_state"} & set(inspect(engine).get_table_names())
    upgrade(config, "audit@head")  # leave the schema as the fixture expects it
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
