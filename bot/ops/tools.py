"""What `supportbot orders ...` and `supportbot link` do: open the database or the
Bot API, call the service, print the outcome for the operator."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiogram.exceptions import TelegramAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import SystemClock
from bot.config import Settings
from bot.domain.linking import MAX_BUYER_ID_BYTES, LinkSigner, deep_link, valid_bot_username
from bot.logs import Redactor
from bot.ops.order_demo import create_demo_orders
from bot.ops.order_import import FileFormatError, OrderImporter, read_rows
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.repositories.orders import OrderRepository


@asynccontextmanager
async def _unit_of_work(settings: Settings) -> AsyncIterator[AsyncSession]:
    """A session on the migrated database, committed when the block ends without error."""
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_session_factory(engine)() as session:
            yield session
            await session.commit()
    finally:
        await engine.dispose()


async def import_orders(settings: Settings, path: Path) -> int:
    """Import a file; prints each rejected row and the counts. Exit code 1 if any row
    was rejected, 2 if the file could not be read at all."""
    try:
        rows = read_rows(path)
    except (OSError, UnicodeDecodeError) as error:
        print(f"supportbot: cannot read {path}: {error}", file=sys.stderr)
        return 2
    try:
        async with _unit_of_work(settings) as session:
            report = await OrderImporter(OrderRepository(session)).run(rows)
    except FileFormatError as error:
        print(f"supportbot: {path}: {error}", file=sys.stderr)
        return 2
    for rejected in report.rejected:
        print(f"{path}:{rejected.line}: rejected: {rejected.reason}")
    print(f"supportbot: {report.summary()}")
    return 1 if report.rejected else 0


async def demo_orders(settings: Settings, telegram_id: int) -> int:
    if telegram_id <= 0:
        print("supportbot: --telegram-id must be a positive Telegram user id", file=sys.stderr)
        return 2
    async with _unit_of_work(settings) as session:
        report = await create_demo_orders(
            OrderImporter(OrderRepository(session)), telegram_id, SystemClock().now()
        )
    print(f"supportbot: demo orders for Telegram user {telegram_id}: {report.summary()}")
    return 0


async def print_link(settings: Settings, buyer_id: str, bot_username: str | None) -> int:
    signer = LinkSigner.from_settings(settings)
    if signer is None:
        print(
            "supportbot: LINK_SECRET is not set. Put a long random secret in the environment "
            "or in .env (e.g. the output of: python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'); the bot checks links with the same secret.",
            file=sys.stderr,
        )
        return 2
    if not 0 < len(buyer_id.encode()) <= MAX_BUYER_ID_BYTES:
        print(
            f"supportbot: a buyer id in a link must be 1 to {MAX_BUYER_ID_BYTES} bytes "
            "(Telegram limits the link's start parameter to 64 characters)",
            file=sys.stderr,
        )
        return 2
    if bot_username is not None and not valid_bot_username(bot_username):
        print(
            f"supportbot: --bot-username {bot_username!r} is not a bot's username: 5 to 32 "
            "letters, digits and underscores, starting with a letter and ending in 'bot' "
            "(e.g. shop_help_bot)",
            file=sys.stderr,
        )
        return 2
    if bot_username is None:
        if settings.bot_token is None:
            print(
                "supportbot: give the bot's username with --bot-username, or set BOT_TOKEN "
                "so that it can be asked from Telegram",
                file=sys.stderr,
            )
            return 2
        try:
            bot_username = await _username(settings)
        except TelegramAPIError as error:
            # aiohttp's errors carry the request URL, and with it the token.
            why = Redactor.for_settings(settings).redact(error.message)
            print(
                f"supportbot: could not ask Telegram for the bot's username ({why}); "
                "give it with --bot-username",
                file=sys.stderr,
            )
            return 2
    print(deep_link(bot_username, signer.token(buyer_id, SystemClock().now())))
    return 0


async def _username(settings: Settings) -> str:
    from bot.app import create_bot

    bot = create_bot(settings)
    try:
        me = await bot.get_me()
    finally:
        await bot.session.close()
    assert me.username is not None  # every bot has one
    return me.username
