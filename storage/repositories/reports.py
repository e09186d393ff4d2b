"""The complaint-handling report's SQL: every figure is aggregated in the database.

Only additive sums and counts, one value per median and the top tags leave the
database, so memory does not grow with the number of cases. The queries are
SQLAlchemy Core and give identical numbers on SQLite and PostgreSQL: averages
are computed by the caller from integer sums and counts, and the median is the
lower middle value (no interpolation) found by ranking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    SQLColumnExpression,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.engine import Result
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from storage.db import OFFLOAD
from storage.models import Case, CaseEvent, CaseTag, Tag
from storage.repositories.cases import OPEN_STATUSES
from storage.types import UTCDateTime

SegmentKey = str | int | None
ALL = "*all*"
"""The key of the whole period's figures, next to the segments' keys."""


class Segment(StrEnum):
    locale = "locale"
    type = "type"
    group = "group"
    agent = "agent"


class Measure(StrEnum):
    response = "first_response_seconds"
    response_work = "first_response_work_seconds"
    resolution = "resolution_seconds"
    resolution_work = "resolution_work_seconds"


def segment_column(by: Segment) -> SQLColumnExpression[Any]:
    """What a case is grouped by; `agent` is who resolved it, else who holds it now."""
    if by is Segment.locale:
        return Case.locale
    if by is Segment.type:
        return Case.type
    if by is Segment.group:
        return Case.agent_chat_id
    return func.coalesce(Case.resolver_name, Case.assignee_name)


class epoch_seconds(FunctionElement[int]):
    """Whole seconds since 1970 of a UTC timestamp column, in either database."""

    type = BigInteger()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


@compiles(epoch_seconds, "postgresql")
def _epoch_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(floor(extract(epoch FROM {compiler.process(element.clauses, **kw)})) AS BIGINT)"


class unindexed(FunctionElement[Any]):
    """A column the planner must not pick an index for (SQLite's unary `+`).

    SQLite's planner, without statistics of value ranges, prefers the `created_at`
    index whenever a period is given, even where another index is much faster (the
    medians walk a measure's covering index in order and skip to the middle; open
    cases are few in the status index). PostgreSQL's planner weighs both with its
    statistics, so there the column is left as it is.
    """

    type = UTCDateTime()
    inherit_cache = True


@compiles(unindexed, "sqlite")
def _unindexed_sqlite(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


@compiles(unindexed)
def _unindexed_default(element: unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@dataclass
class Sums:
    """The additive figures of one segment: the whole period's are their sum."""

    opened: int = 0
    """Cases opened."""
    response_total: int = 0
    responded: int = 0
    response_work_total: int = 0
    responded_work: int = 0
    resolution_total: int = 0
    resolved: int = 0
    resolution_work_total: int = 0
    resolved_work: int = 0
    in_time: int = 0
    late: int = 0
    ratings: list[int] = field(default_factory=lambda: [0] * 5)
    """How many ratings of 1, 2, 3, 4 and 5."""

    def of(self, measure: Measure) -> tuple[int, int]:
        """(total seconds, how many cases have a value) of one measure."""
        return {
            Measure.response: (self.response_total, self.responded),
            Measure.response_work: (self.response_work_total, self.responded_work),
            Measure.resolution: (self.resolution_total, self.resolved),
            Measure.resolution_work: (self.resolution_work_total, self.resolved_work),
        }[measure]

    def add(self, other: Sums) -> None:
        for item in fields(self):
            if item.name == "ratings":
                self.ratings = [a + b for a, b in zip(self.ratings, other.ratings, strict=True)]
            else:
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))


@dataclass(frozen=True)
class TagRow:
    name: str
    cases: int
    description: str


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.sum(case((condition, 1), else_=0))


def _total(column: SQLColumnExpression[int | None]) -> ColumnElement[int]:
    # An integer sum on both databases (PostgreSQL would widen it to numeric).
    return cast(func.coalesce(func.sum(column), 0), BigInteger)


class ReportRepository:
    """Aggregates over `cases`, `case_tags` and `case_events`; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _read(self, query: Executable) -> Result[*tuple[Any, ...]]:
        # Each query reads across all cases: on SQLite it runs off the event loop.
        return await self.session.execute(query, execution_options={OFFLOAD: True})

    @staticmethod
    def _in_period(start: datetime, end: datetime) -> ColumnElement[bool]:
        return and_(Case.created_at >= start, Case.created_at < end)

    async def sums(
        self, start: datetime, end: datetime, by: Segment, day: ColumnElement[int]
    ) -> list[tuple[int, SegmentKey, Sums]]:
        """Counts and duration totals of the cases opened in [start, end), per day and
        segment: one pass gives the table's figures (summed up) and the chart's series."""
        key: ColumnElement[Any] = segment_column(by).label("key")
        day = day.label("day")
        query = (
            select(
                day,
                key,
                func.count(),
                _total(Case.first_response_seconds),
                func.count(Case.first_response_seconds),
                _total(Case.first_response_work_seconds),
                func.count(Case.first_response_work_seconds),
                _total(Case.resolution_seconds),
                func.count(Case.resolution_seconds),
                _total(Case.resolution_work_seconds),
                func.count(Case.resolution_work_seconds),
                _count_if(Case.responded_in_time.is_(True)),
                _count_if(Case.responded_in_time.is_(False)),
                *(_count_if(Case.rating == stars) for stars in range(1, 6)),
            )
            .where(self._in_period(start, end))
            .group_by(day, key)
        )
        found = []
        for row in await self._read(query):
            values = [int(v or 0) for v in row[2:]]
            sums = Sums(ratings=values[-5:])
            for item, value in zip(fields(Sums)[:-1], values[:-5], strict=True):
                setattr(sums, item.name, value)
            found.append((int(row[0]), row[1], sums))
        return found

    async def overdue(
        self, start: datetime, end: datetime, now: datetime, by: Segment
    ) -> dict[SegmentKey, int]:
        """Open cases of the period still unanswered although their deadline has passed."""
        key: ColumnElement[Any] = segment_column(by).label("key")
        query = (
            select(key, func.count())
            .where(
                Case.status.in_(OPEN_STATUSES),
                Case.first_response_at.is_(None),
                Case.response_due_at < now,
                # Few cases are open: read them through the status index.
                unindexed(Case.created_at) >= start,
                unindexed(Case.created_at) < end,
            )
            .group_by(key)
        )
        return {row[0]: int(row[1]) for row in await self._read(query)}

    async def median(
        self,
        start: datetime,
        end: datetime,
        measure: Measure,
        by: Segment,
        key: SegmentKey,
        count: int,
    ) -> int | None:
        """The lower median of one measure over the period's cases of one segment
        (`key` ALL: every case), given how many of them have a value (`count`).

        The k-th smallest value, read off the measure's covering index in order: no
        sort, no rows leave the database but one.
        """
        if count == 0:
            return None
        value = getattr(Case, measure.value)
        query = select(value).where(
            value.is_not(None),
            unindexed(Case.created_at) >= start,
            unindexed(Case.created_at) < end,
        )
        if key != ALL:
            segment = segment_column(by)
            query = query.where(segment.is_(None) if key is None else segment == key)
        query = query.order_by(value).limit(1).offset((count - 1) // 2)
        return (await self._read(query)).scalar()

    async def open_at(self, moment: datetime, by: Segment) -> dict[SegmentKey, int]:
        """Cases open at `moment`, per segment, read from the audit trail.

        Open now, minus every move into an open status after `moment`, plus every move
        out of one: a case reopened after `moment` was closed at `moment`, and one
        resolved after it was still open then.
        """
        key: ColumnElement[Any] = segment_column(by).label("key")
        found: dict[SegmentKey, int] = {}
        open_now = select(key, func.count()).where(Case.status.in_(OPEN_STATUSES)).group_by(key)
        for row in await self._read(open_now):
            found[row[0]] = int(row[1])
        # A case's first event comes from NULL: coalesce, or NOT IN would be NULL too.
        entered = func.coalesce(CaseEvent.to_value, "").in_(OPEN_STATUSES)
        left = func.coalesce(CaseEvent.from_value, "").in_(OPEN_STATUSES)
        delta = case((and_(entered, ~left), 1), (and_(left, ~entered), -1), else_=0)
        later = (
            select(key, func.sum(delta))
            .join_from(CaseEvent, Case, Case.id == CaseEvent.case_id)
            .where(CaseEvent.kind == "status", CaseEvent.at > moment)
            .group_by(key)
        )
        for row in await self._read(later):
            found[row[0]] = found.get(row[0], 0) - int(row[1] or 0)
        return {k: v for k, v in found.items() if v}

    async def top_tags(self, start: datetime, end: datetime, limit: int, lang: str) -> list[TagRow]:
        """The most frequent tags of the period's cases, with their description in `lang`."""
        counted = (
            select(CaseTag.tag, func.count().label("cases"))
            .join_from(CaseTag, Case, Case.id == CaseTag.case_id)
            .where(self._in_period(start, end))
            .group_by(CaseTag.tag)
            .order_by(func.count().desc(), CaseTag.tag)
            .limit(limit)
            .subquery("counted")
        )
        description = Tag.description_ru if lang == "ru" else Tag.description_en
        query = (
            select(counted.c.tag, counted.c.cases, func.coalesce(description, literal("", String)))
            .outerjoin(Tag, Tag.name == counted.c.tag)
            .order_by(counted.c.cases.desc(), counted.c.tag)
        )
        return [TagRow(r[0], int(r[1]), r[2]) for r in await self._read(query)]

    def local_day(self, offsets: Sequence[tuple[datetime | None, int]]) -> ColumnElement[int]:
        """The day number of `created_at` in the operator's time zone.

        `offsets` are (until, UTC offset in seconds) pieces in time order, the last with
        until=None: daylight-saving changes inside the period are taken exactly.
        """
        if len(offsets) == 1:
            shift: ColumnElement[int] = literal(offsets[0][1], BigInteger)
        else:
            shift = case(
                *((Case.created_at < until, literal(off)) for until, off in offsets[:-1]),
                else_=literal(offsets[-1][1]),
            )
        return (epoch_seconds(Case.created_at) + shift) // 86400
