"""Migrations both ways: every revision upgrades, downgrades and upgrades again."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import create_engine
from storage.migrate import downgrade, head_revision, revisions, upgrade
from storage.models import Base

ROOT = Path(__file__).parent.parent

Schema = dict[str, tuple[frozenset[str], frozenset[str]]]


async def _schema(engine: AsyncEngine) -> Schema:
    """Each table with its columns and index names (what a migration changes)."""

    def read(sync: Connection) -> Schema:
        found = inspect(sync)
        return {
            table: (
                frozenset(c["name"] for c in found.get_columns(table)),
                frozenset(str(i["name"]) for i in found.get_indexes(table)),
            )
            for table in found.get_table_names()
            if table != "alembic_version"
        }

    async with engine.connect() as conn:
        return await conn.run_sync(read)


async def _stairway(url: str) -> None:
    engine = create_engine(url)
    try:
        steps = revisions()
        assert steps, "no migrations found"
        schemas: dict[str, Schema] = {"base": {}}
        for revision, previous in steps:
            await upgrade(engine, revision)
            schemas[revision] = await _schema(engine)
            await downgrade(engine, previous)
            assert await _schema(engine) == schemas[previous], f"down from {revision}"
            await upgrade(engine, revision)
            assert await _schema(engine) == schemas[revision], f"up again to {revision}"
        # At the head the schema holds every table the models declare.
        assert set(await _schema(engine)) == set(Base.metadata.tables)
        await downgrade(engine, "base")
        assert await _schema(engine) == {}
    finally:
        await engine.dispose()


async def test_stairway_sqlite(sqlite_url: str) -> None:
    await _stairway(sqlite_url)


@pytest.mark.postgres
async def test_stairway_postgres(postgres_url: str) -> None:
    await _stairway(postgres_url)


def test_the_head_read_off_the_file_names_is_alembics() -> None:
    assert head_revision() == revisions()[-1][0]


async def test_a_start_on_an_up_to_date_database_does_not_load_alembic(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    script = (
        "import asyncio, sys\n"
        "from storage.db import create_engine\n"
        "from storage.migrate import upgrade\n"
        f"asyncio.run(upgrade(create_engine({sqlite_url!r})))\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert done.stdout.strip() == "[]"
    # A database behind the head still migrates.
    engine = create_engine(sqlite_url)
    try:
        await downgrade(engine, revisions()[-1][1])
        await upgrade(engine)
        async with engine.connect() as conn:
            assert (
                await conn.scalar(text("SELECT version_num FROM alembic_version"))
                == head_revision()
            )
    finally:
        await engine.dispose()
