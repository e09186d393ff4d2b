"""Last in line: anything no dialog understood gets a short, helpful answer."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import StateFilter
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.ui.keyboards import main_menu


async def not_understood(message: Message) -> None:
    if message.text is None:
        text = _("I can't do anything with this here. Choose a topic below:")
    else:
        text = _("I'm not sure what you mean. Choose a topic below, or send /help.")
    await message.answer(text, reply_markup=main_menu())


async def unexpected_in_dialog(message: Message) -> None:
    await message.answer(
        _("That doesn't fit this step. Use the buttons above, or send /cancel to stop.")
    )


async def stale_button(query: CallbackQuery) -> None:
    await query.answer(_("This button no longer works."))
    if isinstance(query.message, Message):
        await query.message.answer(_("What can I help with?"), reply_markup=main_menu())


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(not_understood, StateFilter(None))
    router.message.register(unexpected_in_dialog, StateFilter("*"))
    router.callback_query.register(stale_button, StateFilter("*"))
    return router
