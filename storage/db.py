"""Engine and session factory for SQLite (default) and PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL and foreign keys so several readers can share it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # Said here, in one line: the driver's own failure leaves a thread behind that
        # reports it after the event loop is gone.
        folder = Path(parsed.database).parent
        if not folder.is_dir():
            raise ArgumentError(f"the folder {folder} for the SQLite file does not exist")
    engine = create_async_engine(url, pool_pre_ping=not url.startswith("sqlite"))
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

    return engine


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_outage(error: BaseException) -> bool:
    """The database or Redis could not be reached (or dropped the connection).

    Such an error says nothing about the update being handled: the same update will
    succeed once the server is back, so it is waited out, never answered with an apology.
    "database is locked" on SQLite counts too: it passes when the other writer commits.
    """
    from asyncpg.exceptions import CannotConnectNowError, PostgresConnectionError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError

    if isinstance(error, DBAPIError) and (
        error.connection_invalidated
        or isinstance(error.orig, PostgresConnectionError | CannotConnectNowError)
    ):
        return True
    return isinstance(
        error,
        OperationalError
        | PostgresConnectionError
        | CannotConnectNowError
        | InterfaceError
        | DisconnectionError
        | RedisConnectionError
        | RedisTimeoutError
        | OSError  # connection refused or reset; asyncio's "Connect call failed"
        | TimeoutError,
    )


def is_busy(error: BaseException) -> bool:
    """SQLite's "database is locked": another writer held the file longer than the busy
    timeout. The server is fine; trying again shortly succeeds."""
    from sqlalchemy.exc import OperationalError

    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)
