"""SQL database settings: the SQLAlchemy URL and who creates the tables."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class DatabaseSettings:
    database_url: str = setting(
        "DATABASE_URL",
        "sqlite:///var/chatbot.sqlite3",
        "SQLAlchemy URL; PostgreSQL in production (`postgresql+psycopg://...`).",
    )
    db_auto_create: bool = setting(
        "DB_AUTO_CREATE",
        True,
        "Create missing SQL tables when a worker or the web app starts (off when Alembic owns it).",
    )
