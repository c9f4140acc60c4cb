"""job leases: a number per lease granted, naming the blobs each attempt writes

Revision ID: 0007_job_leases
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_job_leases"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("leases", sa.Integer(), nullable=False, server_default="0"))
    # Jobs already claimed start from their attempts; the next lease is numbered above them.
    op.execute("UPDATE jobs SET leases = attempts")


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("leases")
