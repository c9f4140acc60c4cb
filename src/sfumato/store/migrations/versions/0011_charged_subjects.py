"""the ledger names what it charged for by kind and id; an Idempotency-Key names what it created

``credit_ledger.generation_id`` held generation, variation and realtime ids and random ids
for prompt tools; it becomes ``subject_id`` beside a ``subject_kind``. An idempotency record
gets the subject its request created, written in that subject's own transaction.

Revision ID: 0011_charged_subjects
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_charged_subjects"
down_revision = "0001"
branch_labels = None
depends_on = ("0003", "0005")


def upgrade() -> None:
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_ledger_generation_id")
        batch_op.alter_column("generation_id", new_column_name="subject_id", existing_type=sa.String(36))
        batch_op.add_column(sa.Column("subject_kind", sa.String(32), nullable=True))
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_credit_ledger_subject", ["subject_id"], unique=False)
    for kind, table in (
        ("generation", "generations"),
        ("variation", "variations"),
        ("realtime", "realtime_requests"),
    ):
        op.execute(
            f"UPDATE credit_ledger SET subject_kind = '{kind}' "
            f"WHERE subject_kind IS NULL AND subject_id IN (SELECT id FROM {table})"
        )
    # What is left is a prompt tool's charge, or what a deleted subject was charged.
    op.execute(
        "UPDATE credit_ledger SET subject_kind = 'prompt' "
        "WHERE subject_kind IS NULL AND subject_id IS NOT NULL"
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_kind", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("subject_id", sa.String(36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_column("subject_id")
        batch_op.drop_column("subject_kind")
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.drop_index("ix_credit_ledger_subject")
        batch_op.drop_column("subject_kind")
        batch_op.alter_column("subject_id", new_column_name="generation_id", existing_type=sa.String(36))
    with op.batch_alter_table("credit_ledger", schema=None) as batch_op:
        batch_op.create_index("ix_credit_ledger_generation_id", ["generation_id"], unique=False)
