"""content policy: per-account policies set by the operator; a variation's nsfw flag

``account_policies`` holds an account's mode for unsafe outputs (flag, blur, withhold), its
own extra prompt rules and the operator's categories lifted for it. ``variations`` get the
output safety classifier's ``nsfw`` flag (generated images have had one from the start).

Revision ID: 0015_content_policy
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_content_policy"
down_revision = "0001"
branch_labels = None
depends_on = ("0014_video",)


def upgrade() -> None:
    op.create_table(
        "account_policies",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=True),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("allowed", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("account_id"),
    )
    with op.batch_alter_table("variations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("nsfw", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("variations", schema=None) as batch_op:
        batch_op.drop_column("nsfw")
    op.drop_table("account_policies")
