"""Benchmark: the whole complaint-handling report over a year of synthetic cases.

    python bench/report.py [--sizes 10000,100000,200000,1000000] [--databases sqlite,postgres]

For each database and size it fills a fresh database (bench/fill.py, inside the
database), then times, in the same run:
- the baseline: one full scan of the cases table (COUNT and SUM of a column),
  the least any report over every case must cost on that database;
- the report: every figure for every segment and "all", the medians, the cases
  still open at the end, the top tags, and the chart's daily series.
Memory is the peak of Python allocations while the report is built (tracemalloc):
flat means it does not grow with the number of cases. Targets on a 2-core
machine: 200,000 cases under 2 s and 1,000,000 under 8 s, on both databases.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.fill import fill
from bot.clock import ManualClock
from bot.config import Settings
from bot.reports.service import ReportService, last_days
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.repositories.reports import Segment

NOW = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"


async def fresh_database(kind: str, workdir: Path) -> tuple[str, str | None]:
    """A URL of an empty database, and the PostgreSQL database name to drop afterwards."""
    if kind == "sqlite":
        return f"sqlite+aiosqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.sqlite3'}", None
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN)
    async with admin.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
            text(f'CREATE DATABASE "{name}"')
        )
    await admin.dispose()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", name


async def drop_database(name: str) -> None:
    admin = create_engine(PG_ADMIN)
    async with admin.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(
            text(f'DROP DATABASE "{name}" WITH (FORCE)')
        )
    await admin.dispose()


async def baseline(engine: AsyncEngine) -> float:
    started = time.perf_counter()
    async with engine.connect() as conn:
        await conn.execute(text("SELECT COUNT(*), SUM(first_response_seconds) FROM cases"))
    return time.perf_counter() - started


async def report(engine: AsyncEngine, settings: Settings) -> tuple[float, int, int]:
    """Seconds to build the report, peak Python memory in bytes, cases counted."""
    clock = ManualClock(NOW)
    period = last_days(365, ZoneInfo(settings.timezone), NOW)
    tracemalloc.start()
    started = time.perf_counter()
    async with create_session_factory(engine)() as session:
        built = await ReportService(session, settings, clock).build(period, Segment.locale, "en")
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return elapsed, peak, built.all.opened


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,200000,1000000")
    parser.add_argument("--databases", default="sqlite,postgres")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"{'db':<9}{'cases':>10}{'fill s':>9}{'scan s':>9}{'report s':>10}{'x scan':>8}"
          f"{'peak MiB':>10}{'counted':>10}")  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.databases.split(","):
            for n in sizes:
                url, pg_name = await fresh_database(kind, Path(folder))
                engine = create_engine(url)
                try:
                    await upgrade(engine)
                    started = time.perf_counter()
                    await fill(engine, n, int(NOW.timestamp()))
                    filled = time.perf_counter() - started
                    scan = await baseline(engine)
                    elapsed, peak, counted = await report(engine, Settings(_env_file=None))  # type: ignore[call-arg]
                finally:
                    await engine.dispose()
                    if pg_name is not None:
                        await drop_database(pg_name)
                row = f"{kind:<9}{n:>10,}{filled:>9.1f}{scan:>9.3f}{elapsed:>10.3f}"
                row += f"{elapsed / scan:>8.1f}{peak / 2**20:>10.2f}{counted:>10,}"
                print(row, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
