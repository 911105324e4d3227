"""SQL history of the analytics rollup: one row per closed bucket and counter field."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class AnalyticsBucket(Base):
    """A counter of one closed time bucket; the primary key is the upsert's conflict target.

    `field` uses the bucket hash's names (`msg`, `msg:m:<model>`, `lat:<model>:<bin>`, ...),
    plus `unique_users` (day buckets) and `active_sessions` (minute buckets) from the HLLs.
    """

    __tablename__ = "analytics_buckets"

    granularity: Mapped[str] = mapped_column(String(8), primary_key=True)
    bucket_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch s, UTC
    field: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[float] = mapped_column(Float, nullable=False)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)  # epoch s
