"""`supportbot report` and `supportbot tags set`: the operators' side of the report."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from bot.clock import Clock, SystemClock
from bot.config import LOCALES, Settings
from bot.i18n import create_i18n
from bot.reports.chart import render_chart
from bot.reports.render import FORMATS, render
from bot.reports.service import (
    Period,
    ReportError,
    ReportService,
    last_days,
    parse_date,
    parse_segment,
    period_between,
    tag_name,
)
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.repositories.reports import Segment
from storage.repositories.tags import TagRepository

DEFAULT_DAYS = 30


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The `report` and `tags` subcommands of `supportbot`."""
    report = commands.add_parser(
        "report", help="the complaint-handling report for a period (default: the last 30 days)"
    )
    report.add_argument("--from", dest="first", metavar="DATE", help="first day, YYYY-MM-DD")
    report.add_argument("--to", dest="last", metavar="DATE", help="last day, YYYY-MM-DD")
    report.add_argument(
        "--by", default=Segment.locale.value, metavar="|".join(s.value for s in Segment),
        help="segment the figures by (default: locale)",
    )  # fmt: skip
    report.add_argument("--format", choices=FORMATS, default="md", help="default: md")
    report.add_argument("--chart", metavar="FILE.png", help="also draw the chart into this PNG")
    report.add_argument("--lang", choices=LOCALES, default="en", help="language of the report")
    tags = commands.add_parser("tags", help="tag descriptions shown in the report")
    actions = tags.add_subparsers(dest="action", required=True, metavar="ACTION")
    describe = actions.add_parser("set", help='set a tag\'s description: tags set NAME "text"')
    describe.add_argument("name")
    describe.add_argument("description")
    describe.add_argument("--lang", choices=LOCALES, default="en")


def choose_period(args: argparse.Namespace, tz: ZoneInfo, clock: Clock) -> Period:
    now = clock.now()
    if args.first is None and args.last is None:
        return last_days(DEFAULT_DAYS, tz, now)
    today = now.astimezone(tz).date()
    first = parse_date(args.first) if args.first else None
    # Without --to the period ends today, or on its first day when that is later: then
    # the reader hears that it starts in the future, not that it ends before it starts.
    last = parse_date(args.last) if args.last else max(today, first or today)
    return period_between(first or last.replace(day=1), last, tz, now)


async def run_report(settings: Settings, args: argparse.Namespace, clock: Clock) -> int:
    """Print the report (and write the chart); one line on stderr for bad input."""
    i18n = create_i18n(args.lang)
    with i18n.context(), i18n.use_locale(args.lang):
        tz = ZoneInfo(settings.timezone)
        try:
            by = parse_segment(args.by)
            period = choose_period(args, tz, clock)
        except ReportError as error:
            print(f"supportbot report: {error}", file=sys.stderr)
            return 2
        engine = create_engine(settings.database_url)
        try:
            await upgrade(engine)
            async with create_session_factory(engine)() as session:
                report = await ReportService(session, settings, clock).build(period, by, args.lang)
        finally:
            await engine.dispose()
        if args.chart:
            png = await asyncio.to_thread(render_chart, report)
            try:
                await asyncio.to_thread(Path(args.chart).write_bytes, png)
            except OSError as error:
                return _fail(
                    _("Cannot write the chart to {path}: {reason}.").format(
                        path=args.chart, reason=error.strerror
                    )
                )
        try:
            sys.stdout.write(render(report, args.format, args.chart))
            sys.stdout.flush()
        except OSError as error:
            # What could not be written stays buffered; Python would try again at exit and
            # print a traceback, so the rest goes nowhere (the recipe Python's docs give).
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return _fail(_("Cannot print the report: {reason}.").format(reason=error.strerror))
        if args.chart:
            print(_("Chart written to {path}").format(path=args.chart), file=sys.stderr)
    return 0


def _fail(line: str) -> int:
    print(f"supportbot report: {line}", file=sys.stderr)
    return 1


async def set_tag(settings: Settings, args: argparse.Namespace) -> int:
    name = tag_name(args.name)
    if name is None:
        print(
            f"supportbot tags: {args.name!r} is not a tag name: 2 to 32 Latin letters, "
            "digits or _, as /tag takes them (e.g. payment_delay)",
            file=sys.stderr,
        )
        return 2
    description = " ".join(args.description.split())
    if not description:
        print(
            "supportbot tags: the description is empty; write one line saying what the "
            f'cases tagged {name} are about, e.g. tags set {name} "Payment takes long"',
            file=sys.stderr,
        )
        return 2
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with create_session_factory(engine)() as session:
            await TagRepository(session).describe(name, args.lang, description)
            await session.commit()
    finally:
        await engine.dispose()
    print(f"supportbot: {name} ({args.lang}): {description}")
    return 0


def dispatch(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "report":
        return asyncio.run(run_report(settings, args, SystemClock()))
    return asyncio.run(set_tag(settings, args))
