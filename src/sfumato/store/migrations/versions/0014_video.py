"""video: a generation may be a video clip (text- or image-to-video, SVD motion)

``generations`` gets the Leonardo motion model name it was asked for (``motion_model``:
MOTION2, VEO3 …; empty for image generations), SVD's ``motion_strength``, and the end frame's
id and content hash (image-to-video held to a last frame). The first frame's picture is
recorded in the image-to-image columns (``init_image_id`` / ``init_generated_image_id``,
``init_sha256``); the clip itself in ``generated_images``' video columns (0012).

Revision ID: 0014_video
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_video"
down_revision = "0001"
branch_labels = None
depends_on = ("0013_uploaded_media",)


def upgrade() -> None:
    with op.batch_alter_table("generations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("motion_model", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("motion_strength", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("end_frame_image_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("end_frame_generated", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("end_frame_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("generations", schema=None) as batch_op:
        for column in (
            "end_frame_sha256",
            "end_frame_generated",
            "end_frame_image_id",
            "motion_strength",
            "motion_model",
        ):
            batch_op.drop_column(column)
