"""The `supportbot` command: run, shell, migrate and the operators' tools."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.logs import Redactor, setup_logging
from bot.reports import cli as report_cli

log = logging.getLogger("supportbot")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supportbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="take updates from the Bot API (migrates first)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help="serve Telegram's webhook at WEBHOOK_LISTEN instead of long polling",
    )
    shell = commands.add_parser("shell", help="talk to the bot in this terminal, no Telegram")
    shell.add_argument("--lang", choices=["en", "ru"], default="en", help="your Telegram language")
    shell.add_argument("--user-id", type=int, default=1001, help="your Telegram user id")
    shell.add_argument("--name", default="Anna", help="your first name")
    orders = commands.add_parser("orders", help="load orders into the bot's database")
    what = orders.add_subparsers(dest="orders_command", required=True, metavar="ACTION")
    load = what.add_parser("import", help="import orders from a CSV or JSON Lines file")
    load.add_argument("file", type=Path, help="CSV with a header row, or JSON Lines")
    demo = what.add_parser("demo", help="create demo orders for one buyer, relative to now")
    demo.add_argument("--telegram-id", type=int, required=True, help="the buyer's Telegram id")
    link = commands.add_parser("link", help="print a deep link that connects a buyer's account")
    link.add_argument("buyer_id", help="the marketplace's id of the buyer")
    link.add_argument(
        "--bot-username", help="the bot's username (asked from Telegram when BOT_TOKEN is set)"
    )
    forget = commands.add_parser("forget", help="erase one buyer's personal data")
    whom = forget.add_mutually_exclusive_group(required=True)
    whom.add_argument("--telegram-id", type=int, help="the buyer's Telegram user id")
    whom.add_argument("--buyer-id", help="the marketplace's buyer id (every account linked to it)")
    commands.add_parser("migrate", help="apply pending database migrations")
    commands.add_parser("i18n", help="refresh messages.pot and merge it into the .po catalogs")
    report_cli.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as error:
        sys.exit(f"supportbot: configuration error: {error}")
    # Only the bot itself logs its routine. The shell's transcript is the conversation,
    # and the operator tools print their own outcome: warnings and errors join them.
    level = (
        "WARNING" if args.command != "run" and settings.log_level == "INFO" else settings.log_level
    )
    redactor = Redactor.for_settings(settings)
    setup_logging(level, redactor, settings.log_format)
    logging.captureWarnings(True)  # warnings go through the same redaction
    try:
        code = _dispatch(args, settings)
    except KeyboardInterrupt:
        code = 130
    except Exception as error:
        # The one top-level handler: one line without secrets; the traceback (redacted
        # by the logging filter) only with LOG_LEVEL=DEBUG.
        log.debug("supportbot %s failed", args.command, exc_info=error)
        print(f"supportbot: {redactor.redact(explain(error, settings))}", file=sys.stderr)
        code = 1
    sys.exit(code)


def explain(error: BaseException, settings: Settings) -> str:
    """One line for an error nothing else caught, saying which setting to look at."""
    from aiogram.exceptions import (
        TelegramAPIError,
        TelegramNetworkError,
        TelegramUnauthorizedError,
    )
    from redis.exceptions import RedisError
    from sqlalchemy.exc import SQLAlchemyError

    what = " ".join(f"{type(error).__name__}: {error}".split())
    if isinstance(error, TelegramUnauthorizedError):
        return f"the Bot API refused BOT_TOKEN ({what}); check the token from @BotFather"
    if isinstance(error, TelegramNetworkError):
        return (
            f"cannot reach the Bot API at TELEGRAM_API_URL={settings.telegram_api_url} "
            f"({what}); check the address and the network"
        )
    if isinstance(error, TelegramAPIError):
        return f"the Bot API at TELEGRAM_API_URL={settings.telegram_api_url} refused: {what}"
    if isinstance(error, SQLAlchemyError | OSError):
        return f"cannot open the database at DATABASE_URL ({what})"
    if isinstance(error, RedisError):
        return f"cannot use Redis at REDIS_URL ({what})"
    return f"{what} (LOG_LEVEL=DEBUG shows where it happened)"


def _dispatch(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "run":
        if settings.bot_token is None:
            print(
                "supportbot: BOT_TOKEN is not set. Put the token from @BotFather in the "
                "environment or in .env (see .env.example), or try the bot without "
                "Telegram: supportbot shell",
                file=sys.stderr,
            )
            return 2
        if args.webhook and (settings.webhook_url is None or settings.webhook_secret is None):
            print(
                "supportbot: --webhook needs WEBHOOK_URL (the public https address) and "
                "WEBHOOK_SECRET (see .env.example)",
                file=sys.stderr,
            )
            return 2
        from bot.runner import run

        asyncio.run(run(settings, webhook=args.webhook))
        return 0
    if args.command == "shell":
        from bot.shell import run_shell

        return asyncio.run(run_shell(settings, args))
    if args.command == "orders":
        from bot.ops.tools import demo_orders, import_orders

        if args.orders_command == "import":
            return asyncio.run(import_orders(settings, args.file))
        return asyncio.run(demo_orders(settings, args.telegram_id))
    if args.command == "link":
        from bot.ops.tools import print_link

        return asyncio.run(print_link(settings, args.buyer_id, args.bot_username))
    if args.command == "forget":
        from bot.ops.forget import forget

        return asyncio.run(forget(settings, args.telegram_id, args.buyer_id))
    if args.command == "migrate":
        from storage.db import create_engine
        from storage.migrate import upgrade

        async def migrate() -> None:
            engine = create_engine(settings.database_url)
            await upgrade(engine)
            await engine.dispose()

        asyncio.run(migrate())
        print("supportbot: database is up to date")
        return 0
    if args.command == "i18n":
        from bot.i18n import update_catalogs

        missing = update_catalogs(Path.cwd())
        for entry in missing:
            print(f"untranslated: {entry}")
        print(f"supportbot: catalogs updated, {len(missing)} entries need a translation")
        return 0
    if args.command in ("report", "tags"):
        return report_cli.dispatch(settings, args)
    raise AssertionError(args.command)  # pragma: no cover - argparse rejects others
