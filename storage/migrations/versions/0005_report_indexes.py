"""indexes for the complaint-handling report

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-24 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

SEGMENTS = ["locale", "type", "agent_chat_id", "resolver_name", "assignee_name"]
MEASURES = {
    "response": "first_response_seconds",
    "response_work": "first_response_work_seconds",
    "resolution": "resolution_seconds",
    "resolution_work": "resolution_work_seconds",
}


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_report",
            ["created_at", *SEGMENTS, *MEASURES.values(), "responded_in_time", "rating"],
            unique=False,
        )
        for name, column in MEASURES.items():
            batch_op.create_index(
                f"ix_cases_median_{name}", [column, "created_at", *SEGMENTS], unique=False
            )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_events_at"), ["at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_events_at"))
    with op.batch_alter_table("cases", schema=None) as batch_op:
        for name in MEASURES:
            batch_op.drop_index(f"ix_cases_median_{name}")
        batch_op.drop_index("ix_cases_report")
