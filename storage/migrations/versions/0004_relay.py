"""relay outbox: formatting and delivery state of transcript messages

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
    with op.batch_alter_table("case_messages") as batch:
        batch.add_column(sa.Column("entities", sa.Text(), nullable=True))
        batch.add_column(sa.Column("delivery", sa.String(length=8), nullable=True))
        batch.create_index("ix_case_messages_pending", ["case_id", "delivery"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_messages") as batch:
        batch.drop_index("ix_case_messages_pending")
        batch.drop_column("delivery")
        batch.drop_column("entities")
