"""Alembic environment: runs on the connection that storage.migrate hands over."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context

from storage.models import Base


def _render_item(type_: str, obj: Any, _autogen_context: Any) -> str | Literal[False]:
    # Migrations must not import our column types, so UTCDateTime is written as DateTime.
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime(timezone=True)"
    return False


connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    render_item=_render_item,
    compare_type=False,
)
with context.begin_transaction():
    context.run_migrations()
