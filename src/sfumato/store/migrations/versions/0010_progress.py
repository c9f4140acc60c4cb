"""progress: a running job's latest stage and step, and the subject a non-generation job serves

Revision ID: 0010_progress
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_progress"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("progress", sa.JSON(), nullable=True))
        batch_op.create_index("ix_jobs_subject_id", ["subject_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_subject_id")
        batch_op.drop_column("progress")
        batch_op.drop_column("subject_id")
