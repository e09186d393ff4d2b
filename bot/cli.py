"""The `supportbot` command: run, shell, migrate and the operators' tools."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config import ConfigError, Settings, load_settings
from bot.logs import setup_logging
from bot.reports import cli as report_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="supportbot", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("run", help="long-poll the Bot API (migrates the database first)")
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
    setup_logging(level, [settings.bot_token, settings.link_secret], settings.log_format)
    sys.exit(_dispatch(args, settings))


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
        from bot.runner import run

        asyncio.run(run(settings))
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
