"""Dialog state kept in the SQL database, so a restart resumes a dialog.

Inside an update, state changes join that update's unit of work (see `bind`): the
dialog's new state and what the handler wrote (a case, say) commit together or
not at all, and SQLite never sees two writers from one update.

A change to a row already stored is written at the commit with one Core UPDATE
(`_write_changed`), not through the ORM's flush, which cost a dialog step 0.3 ms (its
unit-of-work machinery for one row); the row object the session keeps is given the new
values as if they had been read (`set_committed_value`), so the ORM sees nothing to
flush, and a rollback reloads them from the database like any other row.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from sqlalchemy import Table, bindparam, event, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import FsmRecord

_bound: ContextVar[AsyncSession | None] = ContextVar("fsm_bound_session", default=None)
_ROWS = "fsm_rows"
"""Where a session keeps the dialog rows it read (`AsyncSession.info`)."""
_ROW = select(FsmRecord).where(FsmRecord.key == bindparam("key"))
"""Built once (its cache key with it): `session.get` builds its SELECT on every call."""
_CHANGED = "fsm_changed"
"""Where a session keeps the keys of stored rows changed since its last commit."""
_TABLE: Table = FsmRecord.__table__  # type: ignore[assignment]
_UPDATE = (
    update(_TABLE)
    .where(_TABLE.c.key == bindparam("row_key"))
    .values(state=bindparam("state"), data=bindparam("data"))
)


@event.listens_for(Session, "before_commit")
def _write_changed(session: Session) -> None:
    """Write the stored dialog rows the transaction changed, right before it commits."""
    changed: set[str] | None = session.info.pop(_CHANGED, None)
    if not changed:
        return
    rows: dict[str, FsmRecord | None] = session.info.get(_ROWS, {})
    params = [
        {"row_key": key, "state": row.state, "data": row.data}
        for key in sorted(changed)
        if (row := rows.get(key)) is not None
    ]
    if params:
        session.execute(_UPDATE, params)


@event.listens_for(Session, "after_soft_rollback")
def _forget_changed(session: Session, _previous: Any) -> None:
    """A rollback undoes the changes (and expires the rows, as every row the session
    holds): nothing of them is written by a later commit."""
    session.info.pop(_CHANGED, None)


def remember(session: AsyncSession, row_key: str, row: FsmRecord | None) -> None:
    """Tell the session the dialog's row, read along with something else (the person's
    account, `storage.repositories.users`), so the update's reads of it cost no query."""
    session.info.setdefault(_ROWS, {})[row_key] = row


@contextmanager
def bind(session: AsyncSession) -> Iterator[None]:
    """Route dialog-state reads and writes in this context through `session`."""
    token = _bound.set(session)
    try:
        yield
    finally:
        _bound.reset(token)


class SqlStorage(BaseStorage):
    """aiogram FSM storage on SQLAlchemy: one row per chat and user."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._keys = DefaultKeyBuilder(with_bot_id=True, with_destiny=True)

    def row_key(self, key: StorageKey) -> str:
        """The primary key of a dialog's row."""
        return self._keys.build(key)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        bound = _bound.get()
        if bound is not None:
            # Written with the unit of work's commit (or the next query's autoflush), so
            # a state and its data changed in one update cost one statement.
            yield bound
            return
        async with self._sessions() as session:
            yield session
            await session.commit()

    @staticmethod
    async def _row(session: AsyncSession, row_key: str) -> FsmRecord | None:
        """The dialog's row, read once per session.

        The session keeps what it read, that there is no row included: its identity map
        holds unchanged rows only weakly, and an absent one not at all, so each of the
        update's several reads (aiogram's FSM middleware, the filters, the handler, the
        dialog timeout) would be a query of its own.
        """
        known: dict[str, FsmRecord | None] = session.info.setdefault(_ROWS, {})
        if row_key not in known:
            found = await session.execute(_ROW, {"key": row_key})
            known[row_key] = found.scalar_one_or_none()
        return known[row_key]

    async def _load(self, key: StorageKey) -> FsmRecord | None:
        async with self._session() as session:
            return await self._row(session, self.row_key(key))

    async def _save(self, key: StorageKey, **values: Any) -> None:
        row_key = self.row_key(key)
        async with self._session() as session:
            row = await self._row(session, row_key)
            if row is None:
                if values.get("state") is None and values.get("data", "{}") == "{}":
                    return  # an empty dialog keeps no row, so the table holds only live ones
                row = FsmRecord(key=row_key, state=None, data="{}")
                session.add(row)
                session.info[_ROWS][row_key] = row
            # No write when nothing changed.
            changes = {name: value for name, value in values.items() if getattr(row, name) != value}
            if row in session.new:
                for name, value in changes.items():
                    setattr(row, name, value)
            elif changes:
                for name, value in changes.items():
                    set_committed_value(row, name, value)
                session.info.setdefault(_CHANGED, set()).add(row_key)
            if row.state is None and row.data == "{}":
                session.info[_ROWS][row_key] = None
                session.info.get(_CHANGED, set()).discard(row_key)
                if row in session.new:
                    session.expunge(row)
                else:
                    await session.delete(row)
                    await session.flush()

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        await self._save(key, state=value)

    async def get_state(self, key: StorageKey) -> str | None:
        row = await self._load(key)
        return row.state if row else None

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        await self._save(key, data=json.dumps(dict(data), ensure_ascii=False))

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        row = await self._load(key)
        return dict(json.loads(row.data)) if row else {}

    async def close(self) -> None:
        """The engine belongs to the application; nothing to close here."""


async def forget_redis_dialogs(url: str, user_id: int) -> int:
    """Delete a person's dialog state from Redis (their private chat's keys, with or
    without a bot id in the key); how many keys were deleted."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        keys = [
            key
            for pattern in (f"fsm:{user_id}:{user_id}:*", f"fsm:*:{user_id}:{user_id}:*")
            async for key in client.scan_iter(match=pattern)
        ]
        return int(await client.delete(*keys)) if keys else 0
    finally:
        await client.aclose()
