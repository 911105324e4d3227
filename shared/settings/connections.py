"""The `conn` section: where the data-plane Redis, the Celery broker and the SQL database are.

Each part is declared in its own module (`redis`, `broker`, `database`); this one object keeps
`settings.conn.*` as the single path callers read them from. The README table lists the fields
in this class's order: Redis first, then the broker, then the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.broker import BrokerSettings
from shared.settings.database import DatabaseSettings
from shared.settings.redis import RedisSettings


# Dataclass fields follow the reversed MRO: RedisSettings', then BrokerSettings', then ours.
@dataclass(frozen=True)
class ConnectionSettings(DatabaseSettings, BrokerSettings, RedisSettings):
    pass
