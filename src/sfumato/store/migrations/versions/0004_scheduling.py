"""scheduling: job model and batch keys, worker advertisements

Revision ID: 0004
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("batch_key", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_jobs_account_state", ["account_id", "state"], unique=False)
        batch_op.create_index("ix_jobs_batch", ["state", "batch_key", "lane", "created_at"], unique=False)

    op.create_table(
        "workers",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("hostname", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("device", sa.String(length=40), nullable=False),
        sa.Column("kinds", sa.JSON(), nullable=False),
        sa.Column("models", sa.JSON(), nullable=True),
        sa.Column("loaded_models", sa.JSON(), nullable=False),
        sa.Column("free_memory_bytes", sa.BigInteger(), nullable=True),
        sa.Column("running_jobs", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("seen_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("workers")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_batch")
        batch_op.drop_index("ix_jobs_account_state")
        batch_op.drop_column("batch_key")
        batch_op.drop_column("model_key")
