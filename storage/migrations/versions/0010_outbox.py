"""the outbox retries: attempts, next try, "may appear twice", history posted

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
# Chains after the inbox migration (0006) once both branches are merged.
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("case_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("maybe_twice", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        # Cases made before this revision already have their history under the card.
        batch_op.add_column(
            sa.Column("history_posted", sa.Boolean(), server_default=sa.true(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("history_posted")
    with op.batch_alter_table("case_messages", schema=None) as batch_op:
        batch_op.drop_column("maybe_twice")
        batch_op.drop_column("retry_at")
        batch_op.drop_column("attempts")
