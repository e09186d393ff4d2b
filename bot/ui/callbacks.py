"""Typed inline-button payloads. Button data is untrusted: aiogram validates the fields."""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData


class MenuAction(StrEnum):
    cancel = "cancel"
    refund = "refund"
    defect = "defect"
    payment = "payment"
    seller = "seller"
    person = "person"
    orders = "orders"
    cases = "cases"
    language = "language"
    home = "home"


class MenuCb(CallbackData, prefix="m"):
    action: MenuAction


class Lang(StrEnum):
    en = "en"
    ru = "ru"


class LangCb(CallbackData, prefix="lang"):
    locale: Lang


class BuyerCaseAction(StrEnum):
    withdraw = "w"
    route = "r"
    reopen = "o"


class BuyerCaseCb(CallbackData, prefix="bc"):
    """A buyer's button about one of their own cases (the case id is checked against them)."""

    action: BuyerCaseAction
    case_id: int
    message_id: int = 0


class RateCb(CallbackData, prefix="rt"):
    case_id: int
    score: int
