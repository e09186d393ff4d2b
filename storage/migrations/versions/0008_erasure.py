"""erasure: a case can outlive the link to its buyer

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.alter_column("buyer_id", existing_type=sa.BigInteger(), nullable=True)
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("erasure_told_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # Erased cases have no buyer any more: they cannot go back under NOT NULL.
    op.execute("DELETE FROM cases WHERE buyer_id IS NULL")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_column("erasure_told_at")
        batch_op.drop_column("erased_at")
        batch_op.alter_column("buyer_id", existing_type=sa.BigInteger(), nullable=False)
