"""`/forget_me`: a buyer erases what the bot keeps about them, after confirming."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.desk.handoff import Handoff
from bot.domain.erasure import ErasureService
from bot.services import Services
from bot.ui.keyboards import main_menu
from bot.ui.replies import reply


class ForgetAction(StrEnum):
    confirm = "yes"
    keep = "no"


class ForgetCb(CallbackData, prefix="fm"):
    """Acts only on the person who presses it: there is no one else's id in it."""

    action: ForgetAction


def confirm_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("🗑 Yes, erase my data"), callback_data=ForgetCb(action=ForgetAction.confirm)
    )
    builder.button(text=_("⬅️ No, keep it"), callback_data=ForgetCb(action=ForgetAction.keep))
    builder.adjust(1)
    return builder.as_markup()


async def ask(message: Message) -> None:
    await message.answer(
        _(
            "This erases what I keep about you: your name, your messages, photos and files "
            "in your requests, the dialog in progress, the link to your marketplace account "
            "and your comments on ratings. Open requests are closed: agents will no longer "
            "be able to answer them. Only anonymous figures stay (how many requests, of what "
            "kind, how long they took), for our reports.\n\nThis cannot be undone. Erase your "
            "data?"
        ),
        reply_markup=confirm_keyboard(),
    )


async def confirmed(query: CallbackQuery, state: FSMContext, svc: Services) -> None:
    # The dialog state goes first, through the storage the dialog uses (SQL or Redis).
    await state.clear()
    erased = await ErasureService(svc.session, svc.clock, svc.settings, svc.cases).forget(
        query.from_user.id
    )
    await svc.commit()
    for case_id in erased.cases:
        svc.after_commit(_tell_topic(case_id))
    await reply(
        query,
        _(
            "Done: your data is erased. If you write to me again, I will know you only "
            "from then on."
        ),
        main_menu(),
    )


def _tell_topic(case_id: int) -> Callable[[Handoff, Bot], None]:
    def tell(handoff: Handoff, bot: Bot) -> None:
        handoff.erased(bot, case_id)

    return tell


async def kept(query: CallbackQuery) -> None:
    await reply(query, _("Nothing was erased."), main_menu())


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(ask, Command("forget_me"), StateFilter("*"))
    router.callback_query.register(
        confirmed, ForgetCb.filter(F.action == ForgetAction.confirm), StateFilter("*")
    )
    router.callback_query.register(
        kept, ForgetCb.filter(F.action == ForgetAction.keep), StateFilter("*")
    )
    return router
