"""SQLAlchemy engine and sessions, one engine per process (rebuilt after fork).

DATABASE_URL defaults to a SQLite file under `var/`; PostgreSQL is the production target. The
schema is owned by the ORM models in `shared/models/`; `ensure_schema()` creates missing tables
(development and tests), Alembic migrations do it in production.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from shared.settings import get_settings

_lock = threading.Lock()
_engines: dict[tuple[int, str], Engine] = {}


class Base(DeclarativeBase):
    """Declarative base of every table."""


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    # WAL lets the web read while a worker writes; busy_timeout waits instead of failing.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def build_engine(url: str) -> Engine:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True, future=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def get_engine() -> Engine:
    """This process's engine for DATABASE_URL, created on first use."""
    url = get_settings().conn.database_url
    key = (os.getpid(), url)
    engine = _engines.get(key)
    if engine is None:
        with _lock:
            engine = _engines.get(key)
            if engine is None:
                engine = _engines[key] = build_engine(url)
    return engine


def reset_engines(*, after_fork: bool = False) -> None:
    """Forget this process's engines.

    Args:
        after_fork: True in a forked child, whose inherited connections belong to the parent:
            they are dropped without being closed (closing would end the parent's sessions).
            Otherwise pooled connections are closed properly.
    """
    with _lock:
        for engine in _engines.values():
            engine.dispose(close=not after_fork)
        _engines.clear()


@contextmanager
def session_scope() -> Iterator[Session]:
    """A session in one transaction: committed on success, rolled back on error."""
    factory = sessionmaker(get_engine(), expire_on_commit=False)
    with factory.begin() as session:
        yield session


def ensure_schema() -> None:
    """Create every missing table of the models (idempotent)."""
    import shared.models  # noqa: F401, PLC0415  (registers every table on Base.metadata)

    Base.metadata.create_all(get_engine())
