"""used links: a buyer deep link binds only the first account that opens it

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 05:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_links",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_used_links")),
    )
    with op.batch_alter_table("used_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_links_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("used_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_used_links_expires_at"))
    op.drop_table("used_links")
