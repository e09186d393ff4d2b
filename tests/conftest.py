"""Shared fixtures. Every test builds its own settings, clock, database and bot."""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.config import Settings
from bot.emulator.sandbox import Sandbox

# CI sets this: there, PostgreSQL and Redis must be reachable, and a test that needs
# them fails instead of skipping.
REQUIRE_SERVICES = os.environ.get("SUPPORTBOT_REQUIRE_SERVICES") == "1"
PG_HOST, PG_PORT = "127.0.0.1", 5432
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379

# Tuesday 24 November 2026, 13:00 in Moscow: inside working hours.
START = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


def quiet_root_logger() -> None:
    """No handler left bound to a captured stream: a command under test sets up logging
    on the root logger, and a library thread logging after it returned (aiosqlite's
    worker, alembic) must not write into a closed stream or into the next test's records."""
    root = logging.getLogger()
    root.handlers[:] = []
    root.setLevel(logging.WARNING)


@pytest.fixture(autouse=True)
def _root_logger() -> Iterator[None]:
    level = logging.getLogger().level
    yield
    quiet_root_logger()
    logging.getLogger().setLevel(level)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def need_service(name: str, host: str, port: int) -> None:
    if _reachable(host, port):
        return
    message = f"{name} is not reachable at {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} (SUPPORTBOT_REQUIRE_SERVICES=1)")
    pytest.skip(f"{message}; start it to run this test")


def make_settings(database_url: str, **values: object) -> Settings:
    return Settings(_env_file=None, database_url=database_url, **values)  # type: ignore[call-arg]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}"


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return make_settings(sqlite_url)


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    need_service("PostgreSQL", PG_HOST, PG_PORT)
    import asyncpg

    name = f"supportbot_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(user="postgres", host=PG_HOST, port=PG_PORT, database="test")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://postgres@{PG_HOST}:{PG_PORT}/{name}"
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """A Redis database emptied before and after the test: one per test worker (so the
    workers of one run never share keys), else one per process."""
    need_service("Redis", REDIS_HOST, REDIS_PORT)
    from redis.asyncio import Redis

    worker = os.environ.get("PYTEST_XDIST_WORKER", "").removeprefix("gw")
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{1 + int(worker or os.getpid()) % 15}"
    client = Redis.from_url(url)
    await client.flushdb()
    yield url
    await client.flushdb()
    await client.aclose()


@pytest.fixture
async def sandbox(settings: Settings, clock: ManualClock) -> AsyncIterator[Sandbox]:
    """The real dispatcher against the in-process Bot API model, on a fresh SQLite file."""
    box = await Sandbox.start(settings, clock)
    yield box
    await box.stop()
