"""Engine and session factory for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import aiosqlite
from sqlalchemy import event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_only

BUSY_TIMEOUT_SECONDS = 30
"""How long a write waits for another one to finish before the database says it is locked."""

SQLITE_CONNECTIONS = 64
"""SQLite connections kept open once opened. An update in hand holds one from its first
statement to its commit, and the inbox handles up to 64 at once: with SQLAlchemy's
default of 5 kept, each burst of buyers opened connections (each with its own aiosqlite
thread) that were closed again as it ebbed, 0.3 per update at 50 buyers."""
SQLITE_EXTRA_CONNECTIONS = 16
"""Opened beyond those when they are all in use (delivery lanes, the scheduler), and
closed once given back."""

CHECKPOINT_EVERY = 200
"""Write transactions between two checkpoints (copying the WAL into the database file)."""

_WAIT = f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}"
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "CREATE", "DROP", "ALTER")
_HOLDS = "supportbot_writer"
_RESTING_SINCE = "supportbot_resting_since"


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, foreign keys and one writer at a time."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        # Said here, in one line: the driver's own failure leaves a thread behind that
        # reports it after the event loop is gone.
        folder = Path(parsed.database).parent
        if not folder.is_dir():
            raise ArgumentError(f"the folder {folder} for the SQLite file does not exist")
    sqlite = url.startswith("sqlite")
    options: dict[str, Any] = {}
    if sqlite:
        options["async_creator"] = partial(InlineConnection.open, parsed.database or ":memory:")
        options["pool_size"] = SQLITE_CONNECTIONS
        options["max_overflow"] = SQLITE_EXTRA_CONNECTIONS
    engine = create_async_engine(
        url,
        # A connection goes back to the pool with its transaction already committed or
        # rolled back by SQLAlchemy; the pool's own ROLLBACK on top is, on SQLite, one
        # more trip to aiosqlite's thread per transaction for nothing.
        pool_reset_on_return=None if sqlite else "rollback",
        **options,
    )
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # A commit is in the WAL file when it returns: it survives the process being
            # killed. Only the checkpoints wait for the disk; a power cut may lose the
            # last commits before one (PostgreSQL, for a team that needs more).
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints are made in aiosqlite's thread (`SerialWrites`), not by
            # whichever commit happens to fill the WAL on the event loop.
            cursor.execute("PRAGMA wal_autocheckpoint=0")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(_WAIT)
            cursor.close()

        SerialWrites(BUSY_TIMEOUT_SECONDS).attach(engine)
    else:
        ping_after_rest(engine)
    return engine


IDLE_PING_SECONDS = 10.0
"""A pooled PostgreSQL connection left unused this long is checked before it is used."""


def ping_after_rest(engine: AsyncEngine) -> None:
    """Check a pooled connection before use, as SQLAlchemy's `pool_pre_ping` does, but
    only once it has rested for IDLE_PING_SECONDS.

    The check is a round trip to the server: on every checkout it cost 0.24 ms of CPU
    and 0.37 ms of waiting, two or three times per update. A connection is dropped by a
    server restart or a proxy's idle timeout while it rests; one in use all the time
    breaks only in an outage, which the bot waits out (`is_outage`), and that failure
    makes SQLAlchemy discard the pool's other connections too.
    """
    pool = engine.sync_engine.pool
    dialect = engine.dialect

    @event.listens_for(pool, "checkin")
    def _rests(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RESTING_SINCE] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _awake(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_RESTING_SINCE)
        if since is None or time.monotonic() - since < IDLE_PING_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool throws this connection away and checks out another (or a new one).
            raise DisconnectionError(f"a rested connection is gone: {error}") from error


OFFLOAD = "offload"
"""Execution option for a long read (a report over every case): on SQLite it runs in
aiosqlite's thread, so buyers' updates go on meanwhile."""


class InlineConnection(aiosqlite.Connection):
    """aiosqlite's connection, with the quick calls run in the event loop's own thread.

    aiosqlite runs every call (make a cursor, execute, fetch, close the cursor, commit)
    in its thread and hands the result back through the loop. For the short statements
    of an update that hand-off costs far more than SQLite's work (bench/PROFILE.md,
    rounds four and seven). Here those calls run inline, commits included: in WAL mode
    with synchronous=NORMAL a commit writes the WAL without waiting for the disk. What
    may wait still goes to the thread, so the loop never stalls: rollback and close; a
    commit that also makes a checkpoint (it syncs the files); a statement run with the
    `OFFLOAD` execution option, with the reading of its rows; and the write that takes
    the file's write lock when another process (a `supportbot` command, say) holds it:
    that write is tried on the loop without waiting and, if the lock is taken, made
    again in the thread, where it waits up to the busy timeout. `SerialWrites` says
    which statement is which, before each one.
    """

    takes_lock = False
    """The next statement takes the file's write lock."""
    long = False
    """The next statement and the reading of its rows run in the thread."""
    checkpoint = False
    """The next commit also makes a checkpoint, in the thread."""

    @classmethod
    def open(cls, database: str) -> InlineConnection:
        # Used from the loop's thread as well as from aiosqlite's: calls never overlap,
        # since a pooled connection serves one session at a time.
        connection = cls(partial(sqlite3.connect, database, check_same_thread=False), 64)
        # As SQLAlchemy does for aiosqlite's own: a connection left open must not keep
        # the process alive at exit.
        connection._thread.daemon = True
        return connection

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        owner = getattr(fn, "__self__", None)
        name = getattr(fn, "__name__", "")
        if self._connection is not None and not self.long:
            if isinstance(owner, sqlite3.Cursor):
                if not (self.takes_lock and name.startswith("execute")):
                    return fn(*args, **kwargs)
                done, result = self._without_waiting(fn, *args, **kwargs)
                if done:
                    return result
            elif owner is self._connection:
                if name == "cursor" or (name == "commit" and not self.checkpoint):
                    return fn(*args, **kwargs)
                if name == "commit":
                    self.checkpoint = False
                    fn = self._commit_and_checkpoint
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    def _without_waiting(
        self, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> tuple[bool, Any]:
        """(True, the result) of a write, or (False, None) if another process holds the
        write lock. Nothing was written then, and the transaction holds no lock: the
        same statement can be made again."""
        assert self._connection is not None
        self._connection.execute("PRAGMA busy_timeout=0")
        try:
            return True, fn(*args, **kwargs)
        except sqlite3.OperationalError as error:
            if error.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
            return False, None
        finally:
            self._connection.execute(_WAIT)

    def _commit_and_checkpoint(self) -> None:
        assert self._connection is not None
        self._connection.commit()
        self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").close()


class SerialWrites:
    """SQLite takes one writer at a time; this makes the writers queue for it in asyncio.

    Without it, each pooled connection that wants to write while another one holds the
    lock sleeps in SQLite's busy handler (in steps of up to 100 ms) and, after the busy
    timeout, fails with "database is locked": under load, answers stretch to seconds
    and updates fail. Here a transaction takes an asyncio lock before its first write
    and gives it back when its connection returns to the pool, so the next writer starts the
    moment the previous one ends, readers keep running side by side (WAL), and a write
    that waited longer than `timeout` fails just as SQLite would have said.

    Before each statement it also tells an `InlineConnection` where to run it, and
    every CHECKPOINT_EVERY write transactions, which commit makes the checkpoint.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self._lock: asyncio.Lock | None = None
        self._writes = 0

    def attach(self, engine: AsyncEngine) -> None:
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._before_execute)
        # The turn ends when the connection goes back to the pool, its transaction over
        # (committed, or rolled back by the pool): not at the commit event, which fires
        # before SQLite has finished the COMMIT.
        event.listen(sync.pool, "reset", self._on_reset)
        event.listen(sync.pool, "checkin", self._on_checkin)

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    def _before_execute(self, conn: Connection, *args: Any) -> None:
        statement: str = args[1]
        first_write = not conn.info.get(_HOLDS) and is_write(statement)
        driver = conn.connection.driver_connection
        if isinstance(driver, InlineConnection):
            context = args[3]
            driver.takes_lock = first_write
            driver.long = context is not None and bool(context.execution_options.get(OFFLOAD))
        if not first_write:
            return
        self._writes += 1
        if self._writes >= CHECKPOINT_EVERY and isinstance(driver, InlineConnection):
            self._writes = 0
            driver.checkpoint = True
        try:
            await_only(self._take())
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        conn.info[_HOLDS] = True

    async def _take(self) -> None:
        # Not `asyncio.wait_for`, which starts a task per write even when the lock is free.
        async with asyncio.timeout(self.timeout):
            await self.lock.acquire()

    def _on_reset(self, dbapi_connection: Any, connection_record: Any, reset_state: Any) -> None:
        self._release(connection_record.info)

    def _on_checkin(self, dbapi_connection: Any, connection_record: Any) -> None:
        self._release(connection_record.info)

    def _release(self, info: dict[Any, Any]) -> None:
        if info.pop(_HOLDS, False):
            self.lock.release()


def is_write(statement: str) -> bool:
    """Whether a statement may change the database (so it needs the writer's turn)."""
    head = statement.lstrip()[:8].upper()
    if head.startswith(_WRITES):
        return True
    if head.startswith("WITH"):
        upper = statement.upper()
        return any(word in upper for word in ("INSERT", "UPDATE", "DELETE"))
    return False


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


SHUTTING = {"57P01", "57P02", "57P03"}
"""PostgreSQL's admin_shutdown, crash_shutdown and cannot_connect_now."""


def is_outage(error: BaseException) -> bool:
    """The database or Redis could not be reached (or dropped the connection).

    Such an error says nothing about the update being handled: the same update will
    succeed once the server is back, so it is waited out, never answered with an apology.
    "database is locked" on SQLite counts too: it passes when the other writer commits.
    """
    from asyncpg.exceptions import CannotConnectNowError, PostgresConnectionError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        # SQLAlchemy's asyncpg adapter wraps the driver's error: look beneath it too.
        # "The database system is shutting down / starting up" (SQLSTATE 57P01-57P03)
        # is a server on its way down or up.
        for cause in (error.orig, getattr(error.orig, "__cause__", None)):
            if isinstance(cause, PostgresConnectionError | CannotConnectNowError | OSError):
                return True
            if str(getattr(cause, "sqlstate", "") or getattr(cause, "pgcode", "")) in SHUTTING:
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
