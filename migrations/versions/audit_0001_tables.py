"""audit: archive, state and checkpoint tables.

A branch of its own (label `audit`), so domains add migrations without racing for one chain:
upgrade with `alembic upgrade heads`.

Revision ID: audit_0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "audit_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("audit",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("stream_id", sa.String(41), primary_key=True),
        sa.Column("ms", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_type", sa.String(160), nullable=False),
        sa.Column("actor", sa.String(160), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("ip", sa.String(96)),
        sa.Column("correlation_id", sa.String(160)),
        sa.Column("result", sa.String(160)),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_audit_events_order", "audit_events", ["ms", "seq"], unique=True)
    op.create_index("ix_audit_events_actor", "audit_events", ["actor", "ms"])
    op.create_index("ix_audit_events_type", "audit_events", ["event_type", "ms"])
    op.create_table(
        "audit_state",
        sa.Column("name", sa.String(16), primary_key=True),
        sa.Column("watermark_id", sa.String(41), nullable=False),
        sa.Column("watermark_ms", sa.BigInteger(), nullable=False),
        sa.Column("watermark_seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("archived_total", sa.BigInteger(), nullable=False),
        sa.Column("purged_total", sa.BigInteger(), nullable=False),
        sa.Column("verified_at", sa.Float()),
        sa.Column("verified_ok", sa.Boolean()),
        sa.Column("verified_rows", sa.BigInteger()),
        sa.Column("broken_id", sa.String(41)),
        sa.Column("broken_reason", sa.String(200)),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("through_id", sa.String(41), nullable=False),
        sa.Column("through_ms", sa.BigInteger(), nullable=False),
        sa.Column("through_seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("deleted", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_state")
    op.drop_index("ix_audit_events_type", table_name="audit_events")
    op.drop_index("ix_audit_events_actor", table_name="audit_events")
    op.drop_index("ix_audit_events_order", table_name="audit_events")
    op.drop_table("audit_events")
