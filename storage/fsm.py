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
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import FsmRecord

_bound: ContextVar[AsyncSession | None] = ContextVar("fsm_bound_session", default=None)


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

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        bound = _bound.get()
        if bound is not None:
            yield bound
            await bound.flush()
            return
        async with self._sessions() as session:
            yield session
            await session.commit()

    async def _load(self, key: StorageKey) -> FsmRecord | None:
        async with self._session() as session:
            return await session.get(FsmRecord, self._keys.build(key))

    async def _save(self, key: StorageKey, **values: Any) -> None:
        row_key = self._keys.build(key)
        async with self._session() as session:
            row = await session.get(FsmRecord, row_key)
            if row is None:
                row = FsmRecord(key=row_key, state=None, data="{}")
                session.add(row)
            for name, value in values.items():
                setattr(row, name, value)
            if row.state is None and row.data == "{}":
                # An empty dialog keeps no row, so the table holds only live dialogs.
                if row in session.new:
                    session.expunge(row)
                else:
                    await session.delete(row)

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
