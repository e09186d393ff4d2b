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
