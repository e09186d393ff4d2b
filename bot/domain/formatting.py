"""Dates, money and durations in the reader's locale, through Babel."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from babel.dates import format_date, format_datetime, get_timezone_name
from babel.numbers import format_currency, format_decimal, format_percent, get_currency_symbol
from babel.units import format_unit


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


def calendar_day(value: date, locale: str | None = None) -> str:
    """A date without a time: "25 November 2026"."""
    return format_date(value, "d MMMM y", locale=locale or current_locale())


def money(amount: Decimal, currency: str, locale: str | None = None) -> str:
    """An amount in the locale's way: "₽1,890.00", "1 890,00 ₽", "RUB 1,890.00".

    A currency written as letters (its code, where the locale has no sign for it) is
    kept apart from the digits by a no-break space, as CLDR's currency spacing asks
    (Babel glues them: "RUB1,890.00")."""
    locale = locale or current_locale()
    text = format_currency(amount, currency, locale=locale)
    symbol = get_currency_symbol(currency, locale=locale)
    rest = text.removeprefix(symbol)
    if rest != text and symbol[-1:].isalpha() and rest[:1].isdigit():
        return f"{symbol}\u00a0{rest}"
    return text


def number(value: int | float, locale: str | None = None) -> str:
    return format_decimal(value, locale=locale or current_locale())


UNITS = (
    ("duration-day", 86400),
    ("duration-hour", 3600),
    ("duration-minute", 60),
    ("duration-second", 1),
)


def duration(seconds: int, locale: str | None = None) -> str:
    """A duration as published figures read, in its two largest units, Babel's short
    unit names: "1 hr 26 min", "1 ч 26 мин", "47 min 21 sec" ("2 hr" when minutes are 0)."""
    locale = locale or current_locale()
    amounts = []
    rest = seconds
    for unit, size in UNITS:
        amount, rest = divmod(rest, size)
        amounts.append((amount, unit))
    first = next((i for i, (amount, _) in enumerate(amounts) if amount), len(UNITS) - 1)
    shown = [(a, u) for a, u in amounts[first : first + 2] if a] or [amounts[-1]]
    return " ".join(format_unit(a, u, length="short", locale=locale) for a, u in shown)


def decimal(value: float, locale: str | None = None) -> str:
    """A figure with two decimals: "4.30", "4,30"."""
    return format_decimal(value, "#,##0.00", locale=locale or current_locale())


def percent(share: float, locale: str | None = None) -> str:
    """A share with one decimal: "92.5%", "92,5 %"."""
    return format_percent(share, "#,##0.0%", locale=locale or current_locale())
