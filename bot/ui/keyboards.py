"""Keyboards shared by several dialogs. Labels are translated when the keyboard is built.

Keyboards that never change are built once per language (`per_locale`) and shared:
nothing may modify a markup it got from here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from functools import wraps
from typing import ParamSpec

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.ui.callbacks import Lang, LangCb, MenuAction, MenuCb

P = ParamSpec("P")

_FIXED: set[int] = set()
"""The ids of the keyboards `per_locale` built: they live as long as the process."""


def is_fixed(markup: object) -> bool:
    """Whether the markup is one of the fixed keyboards, which never change (so what
    it becomes in a request can be kept, `bot.app.BotSession`)."""
    return id(markup) in _FIXED


def per_locale(build: Callable[P, InlineKeyboardMarkup]) -> Callable[P, InlineKeyboardMarkup]:
    """Build a fixed keyboard once for each language (and each set of arguments, which
    must be hashable) and hand out that one afterwards (building one costs a deep copy
    per button, on every message)."""
    built: dict[Hashable, InlineKeyboardMarkup] = {}

    @wraps(build)
    def cached(*args: P.args, **kwargs: P.kwargs) -> InlineKeyboardMarkup:
        i18n = I18n.get_current(no_error=True)
        if i18n is None:
            return build(*args, **kwargs)
        key = (i18n.current_locale, args, tuple(sorted(kwargs.items())))
        markup = built.get(key)
        if markup is None:
            markup = built[key] = build(*args, **kwargs)
            _FIXED.add(id(markup))
        return markup

    return cached


@per_locale
def main_menu() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    items = [
        (MenuAction.cancel, _("❌ Cancel an order")),
        (MenuAction.refund, _("💸 Refund")),
        (MenuAction.defect, _("📦 Defective or damaged item")),
        (MenuAction.payment, _("💳 Payment problem")),
        (MenuAction.seller, _("✉️ Ask the seller")),
        (MenuAction.person, _("🙋 Talk to a person")),
        (MenuAction.orders, _("🧾 My orders")),
        (MenuAction.cases, _("📂 My requests")),
        (MenuAction.language, _("🌐 Language")),
    ]
    for action, label in items:
        builder.button(text=label, callback_data=MenuCb(action=action))
    builder.adjust(2, 2, 2, 2, 1)
    return builder.as_markup()


@per_locale
def back_to_menu() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("⬅️ Main menu"), callback_data=MenuCb(action=MenuAction.home))
    return builder.as_markup()


@per_locale
def language_picker() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    # Each language is named in itself, so anyone can find their own.
    builder.button(text="English", callback_data=LangCb(locale=Lang.en))
    builder.button(text="Русский", callback_data=LangCb(locale=Lang.ru))
    builder.button(text=_("⬅️ Main menu"), callback_data=MenuCb(action=MenuAction.home))
    builder.adjust(2, 1)
    return builder.as_markup()


def person_button() -> InlineKeyboardButton:
    """The way out to a person, on every step of every dialog."""
    return InlineKeyboardButton(
        text=_("🙋 Talk to a person"), callback_data=MenuCb(action=MenuAction.person).pack()
    )


def with_way_out(builder: InlineKeyboardBuilder, back: CallbackData) -> InlineKeyboardMarkup:
    """A dialog step's keyboard, finished with Back and a way out to a person."""
    builder.row(InlineKeyboardButton(text=_("⬅️ Back"), callback_data=back.pack()), person_button())
    return builder.as_markup()
