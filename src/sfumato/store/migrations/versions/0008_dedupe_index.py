"""the de-duplication lookup's index ends in created_at

The lookup asks for an account's newest generation with a given request hash inside a
time window. With the index on (account_id, request_hash) alone, planners preferred the
(account_id, created_at) index for the ORDER BY and read every generation of the window;
with created_at last, one index probe answers it.

Revision ID: 0008
Revises: 0001
Create Date: 2026-11-26 08:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0001"
branch_labels = None
depends_on = ("0003",)


def upgrade() -> None:
    op.drop_index("ix_generations_request_hash", table_name="generations")
    op.create_index(
        "ix_generations_request_hash", "generations", ["account_id", "request_hash", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_generations_request_hash", table_name="generations")
    op.create_index("ix_generations_request_hash", "generations", ["account_id", "request_hash"])
