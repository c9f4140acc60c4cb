"""blueprints: executions of versioned multi-step workflows and their steps

Revision ID: 0019_blueprints
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019_blueprints"
down_revision = "0001"
branch_labels = None
depends_on = ("0017_studio_sessions",)


def upgrade() -> None:
    op.create_table(
        "blueprint_executions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("api_key_id", sa.String(length=36), nullable=True),
        sa.Column("blueprint_id", sa.String(length=36), nullable=False),
        sa.Column("version_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("collection_ids", sa.JSON(), nullable=False),
        sa.Column("quote", sa.Integer(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_blueprint_executions_account_id", "blueprint_executions", ["account_id"])
    op.create_table(
        "blueprint_steps",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("execution_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("task", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cost", sa.Integer(), nullable=False),
        sa.Column("job_kind", sa.String(length=32), nullable=False),
        sa.Column("job_payload", sa.JSON(), nullable=False),
        sa.Column("source_field", sa.String(length=32), nullable=True),
        sa.Column("generation", sa.JSON(), nullable=False),
        sa.Column("generation_id", sa.String(length=36), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["execution_id"], ["blueprint_executions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("execution_id", "position", name="uq_blueprint_steps_position"),
    )
    op.create_index("ix_blueprint_steps_execution_id", "blueprint_steps", ["execution_id"])
    op.create_index("ix_blueprint_steps_generation_id", "blueprint_steps", ["generation_id"])


def downgrade() -> None:
    op.drop_index("ix_blueprint_steps_generation_id", table_name="blueprint_steps")
    op.drop_index("ix_blueprint_steps_execution_id", table_name="blueprint_steps")
    op.drop_table("blueprint_steps")
    op.drop_index("ix_blueprint_executions_account_id", table_name="blueprint_executions")
    op.drop_table("blueprint_executions")
