"""Commands that work everywhere in a private chat, from any dialog state.

This router comes first, so `/cancel` and `/start` are never swallowed by a dialog
that is waiting for free text.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.services import Services
from bot.ui.callbacks import LangCb, MenuAction, MenuCb
from bot.ui.keyboards import language_picker, main_menu


def greeting(first_name: str) -> str:
    return _(
        "Hello, {name}! I'm the marketplace's support assistant.\n\n"
        "I can cancel an order, tell you when a refund arrives, take a claim about a "
        "damaged item, sort out a failed payment, and bring in a person whenever you "
        "need one.\n\nWhat can I help with?"
    ).format(name=first_name)


def help_text() -> str:
    return _(
        "Here is what I can do:\n"
        "• cancel an order, or tell you why it can't be cancelled;\n"
        "• tell you when your refund arrives;\n"
        "• take a claim about a defective or damaged item, with photos;\n"
        "• help when a payment fails;\n"
        "• pass a question to the seller, or connect you with a support agent.\n\n"
        "Commands:\n"
        "/start: main menu\n"
        "/cancel: stop the current step\n"
        "/language: change the language\n"
        "/help: this message\n\n"
        "Never send your card number or its security code: we will never ask for them."
    )


async def start(message: Message, state: FSMContext) -> None:
    await state.clear()
    name = message.from_user.first_name if message.from_user else ""
    await message.answer(greeting(name), reply_markup=main_menu())


async def show_help(message: Message) -> None:
    await message.answer(help_text(), reply_markup=main_menu())


async def cancel(message: Message, state: FSMContext) -> None:
    if await state.get_state() is None:
        await message.answer(_("There is nothing to stop right now."), reply_markup=main_menu())
        return
    await state.clear()
    await message.answer(
        _("Stopped. Nothing from that step was sent. What next?"), reply_markup=main_menu()
    )


async def choose_language(message: Message) -> None:
    await message.answer(_("Choose your language:"), reply_markup=language_picker())


async def choose_language_button(query: CallbackQuery) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("Choose your language:"), reply_markup=language_picker())


async def set_language(
    query: CallbackQuery, callback_data: LangCb, svc: Services, i18n: I18n
) -> None:
    account = await svc.users.get(query.from_user.id)
    if account is not None:
        account.locale = callback_data.locale.value
    i18n.current_locale = callback_data.locale.value
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            _("Done: I'll speak English from now on."), reply_markup=main_menu()
        )


async def home(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("What can I help with?"), reply_markup=main_menu())


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(start, CommandStart(deep_link=False), StateFilter("*"))
    router.message.register(show_help, Command("help"), StateFilter("*"))
    router.message.register(cancel, Command("cancel"), StateFilter("*"))
    router.message.register(choose_language, Command("language"), StateFilter("*"))
    router.callback_query.register(
        choose_language_button, MenuCb.filter(F.action == MenuAction.language), StateFilter("*")
    )
    router.callback_query.register(set_language, LangCb.filter(), StateFilter("*"))
    router.callback_query.register(
        home, MenuCb.filter(F.action == MenuAction.home), StateFilter("*")
    )
    return router
