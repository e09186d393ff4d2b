"""Dates, money and durations in the reader's locale, through Babel."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from babel.dates import format_datetime, get_timezone_name
from babel.numbers import format_currency, format_decimal


def current_locale() -> str:
    i18n = I18n.get_current(no_error=True)
    return i18n.current_locale if i18n is not None else "en"


def moment(value: datetime, tz: ZoneInfo, locale: str | None = None) -> str:
    """A date and time with the zone named: "25 November, 14:00 (Moscow Time)"."""
    locale = locale or current_locale()
    text = format_datetime(value, "d MMMM, HH:mm", tzinfo=tz, locale=locale)
    return f"{text} ({get_timezone_name(tz, locale=locale)})"


def day(value: datetime, tz: ZoneInfo, locale: str | None = None) -> str:
    """A calendar date: "25 November 2026"."""
    return format_datetime(value, "d MMMM y", tzinfo=tz, locale=locale or current_locale())


def money(amount: Decimal, currency: str, locale: str | None = None) -> str:
    return format_currency(amount, currency, locale=locale or current_locale())


def number(value: int | float, locale: str | None = None) -> str:
    return format_decimal(value, locale=locale or current_locale())
