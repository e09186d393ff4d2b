"""Alembic upgrades and downgrades, callable from inside a running event loop."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x5B07  # PostgreSQL advisory lock key held while migrating


def alembic_config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def upgrade(engine: AsyncEngine, revision: str = "head") -> None:
    """Apply every pending migration (up to `revision`)."""

    def run(connection: Connection) -> None:
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
        command.downgrade(alembic_config(connection), revision)

    async with engine.begin() as conn:
        await conn.run_sync(run)


def revisions() -> list[tuple[str, str]]:
    """Every migration as (revision, the one before it or "base"), oldest first."""
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
