"""artifacts: outputs record their size in bytes; a generated image may be a video's poster

``generated_images`` and ``variations`` get ``size_bytes`` (empty for rows recorded before).
A video output is recorded as a generated image (its poster in the image columns, as
Leonardo's wire shows a video as a generated image with a motion URL) with ``media_type``
'video' and the video's own blob key, size, hash, duration, frame rate and frame count.

Revision ID: 0012_artifacts
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_artifacts"
down_revision = "0001"
branch_labels = None
depends_on = ("0005",)


def upgrade() -> None:
    with op.batch_alter_table("generated_images", schema=None) as batch_op:
        batch_op.add_column(sa.Column("size_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(
            sa.Column("media_type", sa.String(length=16), nullable=False, server_default="image")
        )
        batch_op.add_column(sa.Column("video_blob_key", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("video_size_bytes", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("video_sha256", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("duration_seconds", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("fps", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("frame_count", sa.Integer(), nullable=True))
    with op.batch_alter_table("variations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("size_bytes", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("variations", schema=None) as batch_op:
        batch_op.drop_column("size_bytes")
    with op.batch_alter_table("generated_images", schema=None) as batch_op:
        for column in (
            "frame_count",
            "fps",
            "duration_seconds",
            "video_sha256",
            "video_blob_key",
            "video_size_bytes",
            "media_type",
            "size_bytes",
        ):
            batch_op.drop_column(column)
