"""Alembic upgrades and downgrades, callable from inside a running event loop.

Alembic is imported only when there is something to migrate: a bot starting on a
database that is up to date (every start but the first after an upgrade) skips its
12 MB and 0.2 s of imports."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:  # not an import cycle: Alembic loads only when the database is behind
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x5B07  # PostgreSQL advisory lock key held while migrating


def head_revision() -> str:
    """The newest migration, read off the file names (`NNNN_what.py` holds revision
    "NNNN", one after another; tests/test_migrations.py holds alembic to it)."""
    return max(
        path.name[:4] for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    )


async def _current_revision(engine: AsyncEngine) -> str | None:
    try:
        async with engine.connect() as conn:
            found = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:  # no such table yet: a new database
        return None
    return str(found) if found is not None else None


def alembic_config(connection: Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply every pending migration (up to `revision`)."""
    if revision == "head" and await _current_revision(engine) == head_revision():
        return

    def run(connection: Connection) -> None:
        from alembic import command

        command.upgrade(alembic_config(connection), revision)

    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several processes starting together: one migrates, the others wait for it
            # (the lock ends with the transaction) and then find nothing left to do.
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        await conn.run_sync(run)


async def downgrade(engine: AsyncEngine, revision: str) -> None:
    """Undo migrations down to `revision` ("base" undoes them all)."""

    def run(connection: Connection) -> None:
        from alembic import command

        command.downgrade(alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


def revisions() -> list[tuple[str, str]]:
    """Every migration as (revision, the one before it or "base"), oldest first."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    steps = []
    for rev in reversed(list(script.walk_revisions("base", "heads"))):
        down = rev.down_revision
        if down is not None and not isinstance(down, str):  # a merge: its first parent
            down = down[0]
        steps.append((rev.revision, down or "base"))
    return steps
