"""The inbox table: updates kept from their arrival until they are handled."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import InboxUpdate

_TABLE = cast(Table, InboxUpdate.__table__)
"""The hot statements below are Core, built once: they run for every update, and the
ORM's bulk INSERT and UPDATE (building the statement, syncing the session) were 8% of
a plain message's CPU."""
_ADD = {
    name: insert(_TABLE)
    .on_conflict_do_nothing(index_elements=["update_id"])
    .returning(_TABLE.c.update_id)
    for name, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
_DONE = (
    update(_TABLE)
    .where(_TABLE.c.update_id == bindparam("id"), _TABLE.c.done_at.is_(None))
    .values(done_at=bindparam("now"), payload=None)
)


class InboxRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, updates: Sequence[tuple[int, str, str]], now: datetime) -> set[int]:
        """Store (update_id, chat key, payload) rows; returns the ids not stored before."""
        if not updates:
            return set()
        statement = _ADD[self.session.get_bind().dialect.name]
        rows = [
            {"update_id": update_id, "chat_key": key, "payload": payload, "received_at": now}
            for update_id, key, payload in updates
        ]
        return set((await self.session.scalars(statement, rows)).all())

    async def done(self, update_id: int, now: datetime) -> None:
        """Mark one update handled and forget what it said."""
        await self.session.execute(_DONE, {"id": update_id, "now": now})

    async def pending(
        self, limit: int = 1000, received_before: datetime | None = None
    ) -> list[tuple[int, str, str | None]]:
        """Updates stored but not handled yet (received before a moment), oldest first:
        (update_id, payload, chat key)."""
        query = select(InboxUpdate.update_id, InboxUpdate.payload, InboxUpdate.chat_key).where(
            InboxUpdate.done_at.is_(None)
        )
        if received_before is not None:
            query = query.where(InboxUpdate.received_at < received_before)
        rows = await self.session.execute(query.order_by(InboxUpdate.update_id).limit(limit))
        return [(update_id, payload or "{}", key) for update_id, payload, key in rows.all()]

    async def set_chat_key(self, update_id: int, chat_key: str) -> None:
        """Fill in the chat key of an update stored before the inbox kept one."""
        await self.session.execute(
            update(InboxUpdate).where(InboxUpdate.update_id == update_id).values(chat_key=chat_key)
        )

    async def first_pending(self, chat_key: str) -> tuple[int, str] | None:
        """The oldest update of one chat not handled yet."""
        row = (
            await self.session.execute(
                select(InboxUpdate.update_id, InboxUpdate.payload)
                .where(InboxUpdate.chat_key == chat_key, InboxUpdate.done_at.is_(None))
                .order_by(InboxUpdate.update_id)
                .limit(1)
            )
        ).first()
        return None if row is None else (row[0], row[1] or "{}")

    async def last_update_id(self) -> int | None:
        return await self.session.scalar(select(func.max(InboxUpdate.update_id)))

    async def oldest_pending_at(self) -> datetime | None:
        """When the oldest update still waiting arrived (the inbox lag)."""
        return await self.session.scalar(
            select(func.min(InboxUpdate.received_at)).where(InboxUpdate.done_at.is_(None))
        )

    async def forget_done(self, before: datetime) -> None:
        """Drop rows handled before `before`; Telegram never redelivers that late."""
        await self.session.execute(
            delete(InboxUpdate).where(
                InboxUpdate.done_at.is_not(None), InboxUpdate.done_at < before
            )
        )
