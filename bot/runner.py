"""`supportbot run`: migrate, then long-poll the configured Bot API server."""

from __future__ import annotations

import logging

from bot.app import create_bot, create_dispatcher
from bot.clock import SystemClock
from bot.config import Settings
from storage.db import create_engine
from storage.migrate import upgrade

log = logging.getLogger("supportbot")


async def run(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        bot = create_bot(settings)
        dp = create_dispatcher(settings, engine=engine, clock=SystemClock())
        dp.startup.register(dp["scheduler"].start)
        dp.shutdown.register(dp["scheduler"].stop)
        log.info("polling %s", settings.telegram_api_url)
        try:
            await dp.start_polling(bot, handle_signals=True, close_bot_session=True)
        finally:
            # aiogram leaves the session open when a startup hook fails.
            await bot.session.close()
    finally:
        await engine.dispose()
