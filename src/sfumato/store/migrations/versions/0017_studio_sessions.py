"""studio sessions: API keys exchanged for a browser session

Revision ID: 0017_studio_sessions
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_studio_sessions"
down_revision = "0001"
branch_labels = None
depends_on = ("0016_training",)


def upgrade() -> None:
    op.create_table(
        "studio_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("api_key_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["api_key_id"], ["api_keys.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("token_hash"),
    )
    op.create_index("ix_studio_sessions_api_key_id", "studio_sessions", ["api_key_id"])


def downgrade() -> None:
    op.drop_index("ix_studio_sessions_api_key_id", table_name="studio_sessions")
    op.drop_table("studio_sessions")
