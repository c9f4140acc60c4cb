"""uploads: init images, and image-to-image lineage on generations

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_LINEAGE = (
    ("init_image_id", sa.String(length=36)),
    ("init_generated_image_id", sa.String(length=36)),
    ("init_sha256", sa.String(length=64)),
    ("init_strength", sa.Float()),
    ("mask_image_id", sa.String(length=36)),
    ("mask_sha256", sa.String(length=64)),
    ("canvas_type", sa.String(length=16)),
)


def upgrade() -> None:
    op.create_table(
        "init_images",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("blob_key", sa.String(length=300), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("blob_key"),
    )
    with op.batch_alter_table("init_images", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_init_images_account_id"), ["account_id"], unique=False)
    with op.batch_alter_table("generations", schema=None) as batch_op:
        for name, type_ in _LINEAGE:
            batch_op.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generations", schema=None) as batch_op:
        for name, _type in reversed(_LINEAGE):
            batch_op.drop_column(name)
    with op.batch_alter_table("init_images", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_init_images_account_id"))
    op.drop_table("init_images")
