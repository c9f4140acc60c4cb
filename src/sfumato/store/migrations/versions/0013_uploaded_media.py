"""uploaded media: images and short videos uploaded through ``/media`` for later jobs

Revision ID: 0013_uploaded_media
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_uploaded_media"
down_revision = "0001"
branch_labels = None
depends_on = ("0012_artifacts",)


def upgrade() -> None:
    op.create_table(
        "uploaded_media",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("blob_key", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("media_type", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("thumbnail_key", sa.String(length=300), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("duration_seconds", sa.Float(), nullable=True),
        sa.Column("fps", sa.Float(), nullable=True),
        sa.Column("frame_count", sa.Integer(), nullable=True),
        sa.Column("codec", sa.String(length=32), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("blob_key"),
    )
    with op.batch_alter_table("uploaded_media", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_uploaded_media_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("uploaded_media", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_uploaded_media_account_id"))
    op.drop_table("uploaded_media")
