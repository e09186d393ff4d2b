"""The support team's working calendar: working days, hours, holidays, time zone.

Promises ("an answer within 72 hours") count only working days; "working time"
in reports counts only working hours.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.config import WEEKDAYS, Settings


class WorkCalendar:
    def __init__(
        self,
        tz: ZoneInfo,
        work_days: set[int],
        opens: time,
        closes: time,
        holidays: set[date],
    ) -> None:
        self.tz = tz
        self.work_days = work_days
        self.opens = opens
        self.closes = closes
        self.holidays = holidays

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkCalendar:
        opens, closes = (time.fromisoformat(p.strip()) for p in settings.work_hours.split("-"))
        return cls(
            tz=ZoneInfo(settings.timezone),
            work_days={WEEKDAYS.index(d) for d in settings.work_days.split(",")},
            opens=opens,
            closes=closes,
            holidays={
                date.fromisoformat(d.strip()) for d in settings.holidays.split(",") if d.strip()
            },
        )

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.work_days and day not in self.holidays

    def _local_midnight(self, day: date) -> datetime:
        return datetime.combine(day, time(0), self.tz)

    def deadline(self, start: datetime, hours: float) -> datetime:
        """`hours` after `start`, counting only time on working days."""
        remaining = timedelta(hours=hours)
        moment = start.astimezone(self.tz)
        for _ in range(3660):  # ten years of days is more than any promise
            day = moment.date()
            next_midnight = self._local_midnight(day + timedelta(days=1))
            if self.is_working_day(day):
                available = next_midnight - moment
                if remaining < available:
                    return (moment + remaining).astimezone(UTC)
                if remaining == available:
                    # "By 26 November, 00:00" reads as the wrong day: end at 23:59 instead.
                    return (next_midnight - timedelta(minutes=1)).astimezone(UTC)
                remaining -= available
            moment = next_midnight
        raise ValueError("no working days in the calendar")

    def _hours_of(self, day: date) -> tuple[datetime, datetime] | None:
        if not self.is_working_day(day):
            return None
        return datetime.combine(day, self.opens, self.tz), datetime.combine(
            day, self.closes, self.tz
        )

    def is_open(self, at: datetime) -> bool:
        hours = self._hours_of(at.astimezone(self.tz).date())
        return hours is not None and hours[0] <= at < hours[1]

    def next_opening(self, at: datetime) -> datetime:
        """When agents are next at work, from `at` (which may itself be working time)."""
        day = at.astimezone(self.tz).date()
        for offset in range(3660):
            hours = self._hours_of(day + timedelta(days=offset))
            if hours is not None and at < hours[1]:
                return max(at, hours[0]).astimezone(UTC)
        raise ValueError("no working days in the calendar")

    def work_seconds(self, start: datetime, end: datetime) -> int:
        """Seconds of working hours between two moments."""
        if end <= start:
            return 0
        total = timedelta()
        day = start.astimezone(self.tz).date()
        last = end.astimezone(self.tz).date()
        while day <= last:
            hours = self._hours_of(day)
            if hours is not None:
                overlap = min(end, hours[1]) - max(start, hours[0])
                if overlap > timedelta():
                    total += overlap
            day += timedelta(days=1)
        return int(total.total_seconds())
