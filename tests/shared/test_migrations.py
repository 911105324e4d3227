"""`alembic upgrade heads` builds exactly the schema the models declare, on both dialects."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.command import downgrade, upgrade
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from shared import db

ROOT = Path(__file__).resolve().parents[2]


def test_migrations_match_the_models_and_downgrade_cleanly(sql_url: str) -> None:
    engine = db.get_engine()
    db.Base.metadata.drop_all(engine)
    config = Config(str(ROOT / "alembic.ini"))
    upgrade(config, "heads")
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), db.Base.metadata) == []
    downgrade(config, "core@base")
    downgrade(config, "audit@base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")
    db.ensure_schema()  # leave the schema as the fixture expects it
