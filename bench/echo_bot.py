"""The floor: a bare aiogram bot that answers every message with its own text.

    BOT_TOKEN=... TELEGRAM_API_URL=http://127.0.0.1:PORT python bench/echo_bot.py

bench/load.py runs it on the same emulator and load as `supportbot run`, so the bot's
CPU per update can be read as a multiple of what aiogram itself costs. It logs at INFO,
like the bot, so both pay for aiogram's "update handled" line.
"""

from __future__ import annotations

import asyncio
import logging
import os

from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.types import Message


async def echo(message: Message) -> None:
    await message.answer(message.text or "?")


async def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]))
    bot = Bot(token=os.environ["BOT_TOKEN"], session=session)
    dp = Dispatcher()
    dp.message.register(echo)
    await dp.start_polling(bot, handle_signals=True, close_bot_session=True)


if __name__ == "__main__":
    asyncio.run(main())
