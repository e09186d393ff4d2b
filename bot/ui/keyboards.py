"""Keyboards shared by several dialogs. Labels are translated when the keyboard is built."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.ui.callbacks import Lang, LangCb, MenuAction, MenuCb


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


def back_to_menu() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("⬅️ Main menu"), callback_data=MenuCb(action=MenuAction.home))
    return builder.as_markup()


def language_picker() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    # Each language is named in itself, so anyone can find their own.
    builder.button(text="English", callback_data=LangCb(locale=Lang.en))
    builder.button(text="Русский", callback_data=LangCb(locale=Lang.ru))
    return builder.as_markup()


def with_way_out(builder: InlineKeyboardBuilder, back: CallbackData) -> InlineKeyboardMarkup:
    """A dialog step's keyboard, finished with Back and a way out to a person."""
    builder.row(
        InlineKeyboardButton(text=_("⬅️ Back"), callback_data=back.pack()),
        InlineKeyboardButton(
            text=_("🙋 Talk to a person"), callback_data=MenuCb(action=MenuAction.person).pack()
        ),
    )
    return builder.as_markup()
