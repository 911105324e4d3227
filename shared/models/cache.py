"""Tables of the cache domain: the popularity history that lets warmup start cold.

`cache.warmup` upserts the queries it considered on every run, so the popular questions (and
their normalised text) outlive a Redis restart or flush; a cold warmup reads them back.
"""

from __future__ import annotations

from sqlalchemy import Float, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class QueryPopularity(Base):
    __tablename__ = "query_popularity"

    # query_hash(normalize_query(text)): the same member as the popularity ZSET.
    qhash: Mapped[str] = mapped_column(String(32), primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[float] = mapped_column(Float)  # epoch seconds of the last warmup seeing it

    __table_args__ = (Index("ix_query_popularity_score", "score"),)
