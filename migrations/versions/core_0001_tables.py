"""core: analytics buckets, query popularity, file documents and chunks.

A branch of its own (label `core`) beside `audit`: upgrade with `alembic upgrade heads`.
Generated with `alembic revision --autogenerate` against the models, then reviewed.

Revision ID: core_0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = ("core",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_buckets",
        sa.Column("granularity", sa.String(length=8), nullable=False),
        sa.Column("bucket_start", sa.BigInteger(), nullable=False),
        sa.Column("field", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("granularity", "bucket_start", "field"),
    )
    op.create_table(
        "file_documents",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("media_type", sa.String(length=32), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("char_count", sa.Integer(), nullable=False),
        sa.Column("chunk_count", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_file_documents_status_created", "file_documents", ["status", "created_at"], unique=False
    )
    op.create_table(
        "query_popularity",
        sa.Column("qhash", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("qhash"),
    )
    op.create_index("ix_query_popularity_score", "query_popularity", ["score"], unique=False)
    op.create_table(
        "file_chunks",
        sa.Column("document_id", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("start_char", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["document_id"], ["file_documents.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("document_id", "seq"),
    )


def downgrade() -> None:
    op.drop_table("file_chunks")
    op.drop_index("ix_query_popularity_score", table_name="query_popularity")
    op.drop_table("query_popularity")
    op.drop_index("ix_file_documents_status_created", table_name="file_documents")
    op.drop_table("file_documents")
    op.drop_table("analytics_buckets")
