"""core: analytics_buckets gets a `region` column, part of the key (one SQL database, N regions),
and analytics_hll keeps each region's HyperLogLog registers (the global unique-users union).

Existing rows become region `local` (REGION's default, what a single-region deployment writes).
The key changes, so the table is rebuilt the same way on SQLite and PostgreSQL: new table, copy,
drop, rename.

Revision ID: core_0003
Revises: core_0002
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0003"
down_revision: str | None = "core_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "granularity, bucket_start, field, value, updated_at"


def _create(name: str, *, with_region: bool) -> None:
    # Named keys, different per direction: a PostgreSQL constraint keeps its name through the
    # rename, and the name must be free when the next rebuild creates its table.
    pk_name = "pk_analytics_buckets_region" if with_region else "analytics_buckets_pkey"
    region = [sa.Column("region", sa.String(32), nullable=False, server_default="local")]
    key = ["region"] if with_region else []
    op.create_table(
        name,
        *(region if with_region else []),
        sa.Column("granularity", sa.String(length=8), nullable=False),
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint(*key, "granularity", "bucket_start", "field", name=pk_name),
    )


def _swap(*, with_region: bool, where: str = "") -> None:
    _create("analytics_buckets_new", with_region=with_region)
    op.execute(
        f"INSERT INTO analytics_buckets_new ({_COLUMNS}) "  # noqa: S608  (constant SQL)
        f"SELECT {_COLUMNS} FROM analytics_buckets{where}"
    )
    op.drop_table("analytics_buckets")
    op.rename_table("analytics_buckets_new", "analytics_buckets")


def upgrade() -> None:
    _swap(with_region=True)
    op.create_table(
        "analytics_hll",
        sa.Column("region", sa.String(length=32), nullable=False),
        sa.Column("granularity", sa.String(length=8), nullable=False),
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        sa.Column("registers", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("region", "granularity", "bucket_start"),
    )


def downgrade() -> None:
    op.drop_table("analytics_hll")
    # Only this region's history fits the old key; other regions' rows are dropped.
    _swap(with_region=False, where=" WHERE region = 'local'")
