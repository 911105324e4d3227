"""Alembic environment: the target metadata is every model in `shared.models`."""

from __future__ import annotations

from alembic import context

import shared.models  # noqa: F401  (registers every table)
from shared.db import Base, get_engine

target_metadata = Base.metadata


def run() -> None:
    if context.is_offline_mode():
        context.configure(url=str(get_engine().url), target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    with get_engine().connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()


run()
