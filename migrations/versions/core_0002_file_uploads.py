"""core: file_uploads, who uploaded which content (GET /files/{id} answers only its uploaders).

Revision ID: core_0002
Revises: core_0001
Create Date: 2026-12-02
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0002"
down_revision: str | None = "core_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "file_uploads",
        sa.Column("file_id", sa.String(length=64), nullable=False),
        sa.Column("uploader", sa.String(length=128), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("file_id", "uploader"),
    )


def downgrade() -> None:
    op.drop_table("file_uploads")
