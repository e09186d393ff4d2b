"""The hot path's plumbing: filters on the event loop, fixed keyboards built once per
language, SQLite writers that queue instead of failing with "database is locked"."""

from __future__ import annotations

import asyncio

from aiogram import Router
from aiogram.utils.i18n import I18n
from sqlalchemy import text

from bot.config import Settings
from bot.i18n import create_i18n
from bot.ui.keyboards import main_menu
from handlers import create_routers
from storage.db import create_engine, create_session_factory, is_write


def _filters(router: Router) -> list[bool]:
    found = []
    for observer in router.observers.values():
        for handler in (observer._handler, *observer.handlers):
            found += [f.awaitable for f in handler.filters or ()]
    for sub_router in router.sub_routers:
        found += _filters(sub_router)
    return found


def test_every_filter_runs_on_the_event_loop() -> None:
    checks = [awaitable for router in create_routers() for awaitable in _filters(router)]
    assert len(checks) > 50
    assert all(checks)


def test_main_menu_is_built_once_per_language(settings: Settings) -> None:
    i18n: I18n = create_i18n(settings.default_locale)
    with i18n.context():
        with i18n.use_locale("en"):
            english = main_menu()
            assert main_menu() is english
        with i18n.use_locale("ru"):
            russian = main_menu()
    assert english.inline_keyboard[0][0].text == "❌ Cancel an order"
    assert russian.inline_keyboard[0][0].text == "❌ Отменить заказ"


def test_statements_that_write_are_told_apart() -> None:
    assert is_write("INSERT INTO users (id) VALUES (1)")
    assert is_write("  update users set locale = 'en'")
    assert is_write("WITH x AS (SELECT 1) DELETE FROM cases WHERE id IN (SELECT * FROM x)")
    assert not is_write("SELECT * FROM users")
    assert not is_write("WITH x AS (SELECT 1) SELECT * FROM x")
    assert not is_write("PRAGMA foreign_keys=ON")


async def test_concurrent_writers_queue_instead_of_failing(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)"))
        await conn.execute(text("INSERT INTO counter VALUES (1, 0)"))
    sessions = create_session_factory(engine)

    async def one() -> None:
        async with sessions() as session:
            await session.execute(text("SELECT n FROM counter"))
            await session.execute(text("UPDATE counter SET n = n + 1 WHERE id = 1"))
            await asyncio.sleep(0.01)  # a handler talking to Telegram mid-transaction
            await session.commit()

    try:
        await asyncio.gather(*(one() for _ in range(40)))
        async with sessions() as session:
            total = (await session.execute(text("SELECT n FROM counter"))).scalar_one()
    finally:
        await engine.dispose()
    assert total == 40
