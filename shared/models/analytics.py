"""SQL history of the analytics rollup: one row per closed bucket and counter field."""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class AnalyticsBucket(Base):
    """A counter of one time bucket of one region; the primary key is the upsert's conflict
    target. Closed buckets are final; the open ones and the all-time totals (`total`, start 0)
    are rewritten by every rollup run of a multi-region deployment (the global view's input).

    `field` uses the bucket hash's names (`msg`, `msg:m:<model>`, `lat:<model>:<bin>`, ...),
    plus `unique_users` (day buckets) and `active_sessions` (minute buckets) from the HLLs.
    """

    __tablename__ = "analytics_buckets"

    # Every region writes its own buckets to the one SQL database (REGION; `local` by default).
    region: Mapped[str] = mapped_column(String(32), primary_key=True, server_default="local")
    granularity: Mapped[str] = mapped_column(String(8), primary_key=True)
    bucket_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch s, UTC
    field: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[float] = mapped_column(Float, nullable=False)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)  # epoch s


class AnalyticsHll(Base):
    """The raw registers of one region's HyperLogLog of one bucket (Redis's own encoding, as GET
    returns it): the global view loads every region's into Redis for one PFCOUNT union."""

    __tablename__ = "analytics_hll"

    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    granularity: Mapped[str] = mapped_column(String(8), primary_key=True)
    bucket_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # epoch s, UTC
    registers: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    updated_at: Mapped[float] = mapped_column(Float, nullable=False)  # epoch s
