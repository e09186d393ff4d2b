"""intent flows: requests typed in free text, for "resolved without an agent"

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "intent_flows",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("buyer_id", sa.BigInteger(), nullable=False),
        sa.Column("intent", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("order_id", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settles_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intent_flows")),
    )
    op.create_index(
        op.f("ix_intent_flows_started_at"), "intent_flows", ["started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_intent_flows_started_at"), table_name="intent_flows")
    op.drop_table("intent_flows")
