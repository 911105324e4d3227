"""audit: each region's chain in the one SQL database (`region` on events and checkpoints).

Stream ids are unique only within one region's stream, so the events' key becomes
(region, stream_id) and the order index (region, ms, seq). Existing rows become region `local`
(REGION's default); the state row of `local` keeps its name `main`. The key changes, so the
events table is rebuilt the same way on SQLite and PostgreSQL: new table, copy, drop, rename.

Revision ID: audit_0002
Revises: audit_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "audit_0002"
down_revision: str | None = "audit_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "stream_id, ms, seq, event_type, actor, details, ip, correlation_id, result, hash"


def _rebuild(*, with_region: bool, where: str = "") -> None:
    # Named keys, different per direction: a PostgreSQL constraint keeps its name through the
    # rename, and the name must be free when the next rebuild creates its table.
    pk_name = "pk_audit_events_region" if with_region else "audit_events_pkey"
    region = [sa.Column("region", sa.String(32), nullable=False, server_default="local")]
    op.create_table(
        "audit_events_new",
        *(region if with_region else []),
        sa.Column("stream_id", sa.String(41), nullable=False),
        sa.Column("ms", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(160), nullable=False),
        sa.Column("actor", sa.String(160), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(96)),
        sa.Column("correlation_id", sa.String(160)),
        sa.Column("result", sa.String(160)),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint(*(["region"] if with_region else []), "stream_id", name=pk_name),
    )
    op.execute(
        f"INSERT INTO audit_events_new ({_COLUMNS}) "  # noqa: S608  (constant SQL)
        f"SELECT {_COLUMNS} FROM audit_events{where}"
    )
    op.drop_table("audit_events")
    op.rename_table("audit_events_new", "audit_events")
    order = ["region", "ms", "seq"] if with_region else ["ms", "seq"]
    op.create_index("ix_audit_events_order", "audit_events", order, unique=True)
    op.create_index("ix_audit_events_actor", "audit_events", ["actor", "ms"])
    op.create_index("ix_audit_events_type", "audit_events", ["event_type", "ms"])


def upgrade() -> None:
    _rebuild(with_region=True)
    op.add_column(
        "audit_checkpoints",
        sa.Column("region", sa.String(32), nullable=False, server_default="local"),
    )


def downgrade() -> None:
    # Only the default region's chain fits the old key; other regions' rows are dropped.
    op.execute("DELETE FROM audit_checkpoints WHERE region <> 'local'")
    op.execute("DELETE FROM audit_state WHERE name <> 'main'")
    with op.batch_alter_table("audit_checkpoints") as batch:
        batch.drop_column("region")
    _rebuild(with_region=False, where=" WHERE region = 'local'")
