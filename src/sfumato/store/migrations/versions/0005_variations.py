"""variations (upscale, unzoom, background removal) and realtime canvas requests

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-26 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "variations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("generated_image_id", sa.String(length=36), nullable=True),
        sa.Column("parent_variation_id", sa.String(length=36), nullable=True),
        sa.Column("init_image_id", sa.String(length=36), nullable=True),
        sa.Column("transform", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("blob_key", sa.String(length=300), nullable=True),
        sa.Column("content_type", sa.String(length=40), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("credit_cost", sa.Integer(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["generated_image_id"], ["generated_images.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("variations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_variations_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_variations_generated_image_id"), ["generated_image_id"], unique=False
        )
    op.create_table(
        "realtime_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("operation", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("input_keys", sa.JSON(), nullable=False),
        sa.Column("output_key", sa.String(length=300), nullable=True),
        sa.Column("credit_cost", sa.Integer(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("realtime_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_realtime_requests_account_id"), ["account_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("realtime_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_realtime_requests_account_id"))
    op.drop_table("realtime_requests")
    with op.batch_alter_table("variations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_variations_generated_image_id"))
        batch_op.drop_index(batch_op.f("ix_variations_account_id"))
    op.drop_table("variations")
