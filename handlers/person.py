"""Talk to a person: the buyer describes the question and it becomes a general case."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.domain.cases import CaseType
from bot.services import Services
from bot.ui.callbacks import MenuAction, MenuCb
from bot.ui.keyboards import back_to_menu
from bot.ui.replies import open_case_from_text
from handlers.free_text import FreeText
from storage.models import User


class PersonDialog(StatesGroup):
    describe = FreeText()


async def enter(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await state.set_state(PersonDialog.describe)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            _(
                "Tell me in one message what happened, and I will pass it to a support "
                "agent. Please include the order number if your question is about an order."
            ),
            reply_markup=back_to_menu(),
        )


async def describe(
    message: Message, state: FSMContext, svc: Services, account: User, i18n: I18n
) -> None:
    await open_case_from_text(message, state, svc, account, i18n, type_=CaseType.general)


async def not_text(message: Message) -> None:
    await message.answer(
        _("Please describe your question in words first; you can send photos after that.")
    )


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(
        enter, MenuCb.filter(F.action == MenuAction.person), StateFilter("*")
    )
    router.message.register(describe, PersonDialog.describe, F.text)
    router.message.register(not_text, PersonDialog.describe)
    return router
