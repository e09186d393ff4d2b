"""Migrations, the SQL dialog-state storage and the column types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from asyncpg.exceptions import CannotConnectNowError
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import db, fsm
from storage.db import create_engine, create_session_factory, is_outage
from storage.fsm import SqlStorage
from storage.migrate import upgrade
from storage.models import Base, User


async def _diff_after_upgrade(url: str) -> list[object]:
    engine = create_engine(url)
    await upgrade(engine)

    def compare(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))

    async with engine.connect() as conn:
        diff = await conn.run_sync(compare)
    await engine.dispose()
    return diff


async def test_migrations_match_the_models_on_sqlite(sqlite_url: str) -> None:
    assert await _diff_after_upgrade(sqlite_url) == []


@pytest.mark.postgres
async def test_migrations_match_the_models_on_postgres(postgres_url: str) -> None:
    assert await _diff_after_upgrade(postgres_url) == []


async def test_dialog_state_survives_a_new_storage(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    key = StorageKey(bot_id=1, chat_id=2, user_id=2)
    first = SqlStorage(create_session_factory(engine))
    await first.set_state(key, "Cancel:confirm")
    await first.set_data(key, {"order": "A-1", "note": "привет"})
    second = SqlStorage(create_session_factory(engine))
    assert await second.get_state(key) == "Cancel:confirm"
    assert await second.get_data(key) == {"order": "A-1", "note": "привет"}
    await second.set_state(key, None)
    await second.set_data(key, {})
    assert await first.get_state(key) is None
    assert await first.get_data(key) == {}
    await engine.dispose()


async def test_a_dialog_change_commits_with_the_update_or_not_at_all(sqlite_url: str) -> None:
    """A stored dialog row changed inside an update's session is written by that
    session's commit; a rollback throws the change away, and a later commit in the
    same session does not bring it back."""
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    sessions = create_session_factory(engine)
    storage = SqlStorage(sessions)
    key = StorageKey(bot_id=1, chat_id=2, user_id=2)
    await storage.set_state(key, "Refund:order")
    await storage.set_data(key, {"order": "A-1"})

    async def change(session: AsyncSession) -> None:
        with fsm.bind(session):
            await storage.set_state(key, "Refund:reason")
            await storage.update_data(key, {"reason": "late"})
            assert await storage.get_state(key) == "Refund:reason"

    written: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: written.append(args[2]))
    async with sessions() as session:
        await change(session)
        await session.rollback()
        await session.commit()
    assert not [sql for sql in written if sql.startswith("UPDATE fsm_states")]
    assert await storage.get_state(key) == "Refund:order"
    assert await storage.get_data(key) == {"order": "A-1"}

    async with sessions() as session:
        await change(session)
        await session.commit()
    assert await storage.get_state(key) == "Refund:reason"
    assert await storage.get_data(key) == {"order": "A-1", "reason": "late"}
    await engine.dispose()


async def test_datetimes_come_back_aware_in_utc(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    await upgrade(engine)
    seen = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
    async with create_session_factory(engine)() as session:
        session.add(User(id=5, first_name="A", first_seen=seen, last_seen=seen))
        await session.commit()
    async with create_session_factory(engine)() as session:
        user = await session.get(User, 5)
        assert user is not None
        assert user.first_seen == seen
        assert user.first_seen.tzinfo is not None
    await engine.dispose()


def test_a_postgres_shutting_down_is_an_outage_not_a_failure() -> None:
    """SQLAlchemy's asyncpg adapter wraps "the database system is shutting down": the
    job in hand waits for the server instead of failing with a traceback (as the
    PostgreSQL outage test once saw)."""

    class Adapted(Exception):
        pass

    shutting = Adapted("the database system is shutting down")
    shutting.__cause__ = CannotConnectNowError("the database system is shutting down")
    assert is_outage(DBAPIError("SELECT 1", {}, shutting))
    assert not is_outage(DBAPIError("SELECT 1", {}, Adapted('syntax error at "SELEC"')))


async def _backend(sessions: async_sessionmaker[AsyncSession]) -> int:
    """The PostgreSQL server process behind the connection a new session gets."""
    async with sessions() as session:
        return int((await session.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def test_a_rested_postgres_connection_the_server_dropped_is_replaced(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(postgres_url)
    sessions = create_session_factory(engine)
    pings: list[object] = []
    checked = engine.dialect.do_ping

    def ping(connection: Any) -> bool:
        pings.append(connection)
        return checked(connection)

    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    try:
        first = await _backend(sessions)
        # In steady use the pooled connection is used as it is: no round trip first.
        assert await _backend(sessions) == first
        assert pings == []
        # The server drops it while it rests in the pool (a restart, a proxy's idle
        # timeout); once it has rested long enough, it is checked, found gone and replaced.
        admin = create_engine(postgres_url)
        async with admin.connect() as connection:
            await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        await admin.dispose()
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)
        replaced = await _backend(sessions)
    finally:
        await engine.dispose()
    assert replaced != first
    assert pings
