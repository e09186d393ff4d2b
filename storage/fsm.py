"""Dialog state kept in the SQL database, so a restart resumes a dialog.

Inside an update, state changes join that update's unit of work (see `bind`): the
dialog's new state and what the handler wrote (a case, say) commit together or
not at all, and SQLite never sees two writers from one update.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import FsmRecord

_bound: ContextVar[AsyncSession | None] = ContextVar("fsm_bound_session", default=None)
_ROWS = "fsm_rows"
"""Where a session keeps the dialog rows it read (`AsyncSession.info`)."""
_ROW = select(FsmRecord).where(FsmRecord.key == bindparam("key"))
"""Built once (its cache key with it): `session.get` builds its SELECT on every call."""


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
            for name, value in values.items():
                if getattr(row, name) != value:  # no write when nothing changed
                    setattr(row, name, value)
            if row.state is None and row.data == "{}":
                session.info[_ROWS][row_key] = None
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
