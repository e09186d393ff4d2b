"""The complaint-handling report: the figures marketplaces publish for a period.

Per segment and for all cases opened in the period: how many, time to the first
response and to resolution (average and median, calendar time and working
hours), the share answered within the deadline, how many were still open when
the period ended, buyer satisfaction, the most frequent tags, and the cases per
day for the chart. Every figure is aggregated in the database
(`storage.repositories.reports`); this module chooses the period, puts the
figures together and leaves formatting to `bot.reports.render`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from storage.repositories.flows import DeflectionRow, IntentFlowRepository
from storage.repositories.reports import (
    ALL,
    Measure,
    ReportRepository,
    Segment,
    SegmentKey,
    Sums,
    TagRow,
)

TOP_TAGS = 10
DAY = 86400
STATS_ARGUMENT = re.compile(r"^(?:(\d{1,3})d|(\d{4})-(\d{2}))$")
TAG_NAME = re.compile(r"^[a-z0-9_]{2,32}$")
"""A tag's name, as `/tag` and `supportbot tags set` take it."""


class ReportError(ValueError):
    """Input a report cannot be made from; the message is one line for the reader."""


def tag_name(text: str) -> str | None:
    """The tag written in `text` (#Payment_Delay is payment_delay), or None when it is
    not 2 to 32 Latin letters, digits or _."""
    name = text.strip().lower().lstrip("#")
    return name if TAG_NAME.match(name) else None


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC; `first` and `last` are the local calendar days it covers."""

    start: datetime
    end: datetime
    first: date
    last: date


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(UTC)


def period_between(first: date, last: date, tz: ZoneInfo, now: datetime) -> Period:
    """The days `first` to `last` inclusive, in the operator's time zone, cut at now."""
    if first > last:
        raise ReportError(_("The start date is after the end date."))
    start = _midnight(first, tz)
    if start > now:
        raise ReportError(_("The period starts in the future: there is nothing to report yet."))
    end = min(_midnight(last + timedelta(days=1), tz), now)
    return Period(start, end, first, min(last, now.astimezone(tz).date()))


def last_days(days: int, tz: ZoneInfo, now: datetime) -> Period:
    """The last `days` calendar days, today included (today up to now)."""
    today = now.astimezone(tz).date()
    return period_between(today - timedelta(days=days - 1), today, tz, now)


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReportError(
            _("{value} is not a date: write it as YYYY-MM-DD, e.g. 2026-11-01.").format(value=text)
        ) from None


def parse_segment(text: str) -> Segment:
    try:
        return Segment(text)
    except ValueError:
        raise ReportError(
            _("Unknown segment {value}: use one of {choices}.").format(
                value=text, choices=", ".join(s.value for s in Segment)
            )
        ) from None


def stats_period(argument: str, tz: ZoneInfo, now: datetime) -> Period:
    """The period of `/stats [7d|30d|YYYY-MM]`: the last N days (30 by default) or a month."""
    match = STATS_ARGUMENT.match(argument.strip() or "30d")
    if match is None or (match[1] is not None and not 1 <= int(match[1]) <= 366):
        raise ReportError(
            _("I don't understand {value}: write /stats 7d, /stats 30d or /stats 2026-11.").format(
                value=argument.strip()
            )
        )
    if match[1] is not None:
        return last_days(int(match[1]), tz, now)
    year, month = int(match[2]), int(match[3])
    if not 1 <= month <= 12:
        raise ReportError(_("There is no month {value}.").format(value=argument.strip()))
    first = date(year, month, 1)
    last = (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    return period_between(first, last, tz, now)


@dataclass
class Figures:
    """One column of the report: a segment, or all cases."""

    sums: Sums = field(default_factory=Sums)
    medians: dict[Measure, int | None] = field(default_factory=dict)
    overdue: int = 0
    """Still unanswered although the deadline has passed (late, like answered late)."""
    open_at_end: int = 0

    @property
    def opened(self) -> int:
        return self.sums.opened

    def average(self, measure: Measure) -> int | None:
        """Whole seconds, halves rounded up: the same on every database."""
        total, count = self.sums.of(measure)
        return (2 * total + count) // (2 * count) if count else None

    @property
    def in_time_share(self) -> float | None:
        """Answered within the deadline, of those answered or past their deadline."""
        decided = self.sums.in_time + self.sums.late + self.overdue
        return self.sums.in_time / decided if decided else None

    @property
    def rated(self) -> int:
        return sum(self.sums.ratings)

    @property
    def csat(self) -> float | None:
        """Average rating, 1 to 5, to two decimals."""
        if not self.rated:
            return None
        total = sum(stars * n for stars, n in enumerate(self.sums.ratings, start=1))
        return round(total / self.rated, 2)


@dataclass
class Report:
    period: Period
    by: Segment
    lang: str
    tz: ZoneInfo
    segments: dict[SegmentKey, Figures]
    """Ordered by cases opened, most first."""
    all: Figures
    tags: list[TagRow]
    days: list[date]
    per_day: dict[SegmentKey, list[int]]
    """Cases opened on each of `days`, per segment."""
    dialog_hours: float = 24
    """The window after which a typed request counts as settled (DIALOG_TIMEOUT_HOURS)."""
    deflection: list[DeflectionRow] = field(default_factory=list)
    """Requests typed in free text and confirmed, per intent: how many ended without a case."""

    @property
    def empty(self) -> bool:
        return self.all.opened == 0


def day_offsets(start: datetime, end: datetime, tz: ZoneInfo) -> list[tuple[datetime | None, int]]:
    """The zone's UTC offsets over [start, end): (until, seconds) pieces, the last open."""
    pieces: list[tuple[datetime | None, int]] = []

    def offset(moment: datetime) -> int:
        delta = moment.astimezone(tz).utcoffset()
        return int(delta.total_seconds()) if delta is not None else 0

    current = offset(start)
    moment = start
    while moment < end:
        step = min(moment + timedelta(days=1), end)
        if offset(step) != current:
            # Zone changes happen on a minute: narrow down to it.
            low, high = moment, step
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                low, high = (middle, high) if offset(middle) == current else (low, middle)
            pieces.append((high, current))
            current = offset(high)
        moment = step
    pieces.append((None, current))
    return pieces


class ReportService:
    """Builds the report for a period from the stored case figures."""

    def __init__(self, session: AsyncSession, settings: Settings, clock: Clock) -> None:
        self.repo = ReportRepository(session)
        self.flows = IntentFlowRepository(session)
        self.settings = settings
        self.clock = clock
        self.tz = ZoneInfo(settings.timezone)

    async def build(self, period: Period, by: Segment, lang: str) -> Report:
        """Every figure of the report; the database does the counting."""
        repo, start, end = self.repo, period.start, period.end
        day = repo.local_day(day_offsets(start, end, self.tz))
        rows = await repo.sums(start, end, by, day)
        segments: dict[SegmentKey, Figures] = {}
        everything = Figures()
        for _day, key, sums in rows:
            segments.setdefault(key, Figures()).sums.add(sums)
            everything.sums.add(sums)
        for key, overdue in (await repo.overdue(start, end, self.clock.now(), by)).items():
            segments.setdefault(key, Figures()).overdue = overdue
            everything.overdue += overdue
        for key, still_open in (await repo.open_at(end, by)).items():
            segments.setdefault(key, Figures()).open_at_end = still_open
            everything.open_at_end += still_open
        columns: list[tuple[SegmentKey, Figures]] = [*segments.items(), (ALL, everything)]
        for key, figures in columns:
            for measure in Measure:
                figures.medians[measure] = await repo.median(
                    start, end, measure, by, key, figures.sums.of(measure)[1]
                )
        first_day = period.first - date(1970, 1, 1)
        days = [
            period.first + timedelta(days=n) for n in range((period.last - period.first).days + 1)
        ]
        per_day = {key: [0] * len(days) for key in segments}
        for day_number, key, sums in rows:
            index = day_number - first_day.days
            if 0 <= index < len(days):
                per_day[key][index] += sums.opened
        ordered = dict(sorted(segments.items(), key=lambda item: (-item[1].opened, str(item[0]))))
        return Report(
            period=period,
            by=by,
            lang=lang,
            tz=self.tz,
            segments=ordered,
            all=everything,
            tags=await repo.top_tags(start, end, TOP_TAGS, lang),
            days=days,
            per_day=per_day,
            dialog_hours=self.settings.dialog_timeout_hours,
            deflection=await self.flows.deflection(start, end, self.clock.now()),
        )
