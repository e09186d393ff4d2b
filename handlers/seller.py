"""Ask the seller. Buyers never reach sellers directly: the question becomes a case,
support passes it on and brings the answer back to this chat."""

from __future__ import annotations

from enum import StrEnum

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.domain.cases import CaseType
from bot.domain.orders import Buyer
from bot.services import Services
from bot.ui.callbacks import MenuAction, MenuCb
from bot.ui.keyboards import person_button
from bot.ui.replies import ChatMessage, open_case_from_text
from handlers.free_text import FreeText
from handlers.order_picker import (
    OrderPageCb,
    OrderStep,
    Purpose,
    order_keyboard,
    show_page,
    take_order,
)
from storage.models import Order, User


class SellerDialog(StatesGroup):
    order = State()
    question = FreeText()


class SellerAction(StrEnum):
    no_order = "n"
    back = "b"


class SellerCb(CallbackData, prefix="sl"):
    action: SellerAction


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


async def order_choice(svc: Services, buyer: Buyer, page: int = 0) -> InlineKeyboardMarkup:
    """The buyer's orders page by page, with "not about an order" on top."""
    keyboard, _total = await order_keyboard(svc.orders, buyer, Purpose.seller, page=page)
    not_an_order = _button(_("💬 Not about an order"), SellerCb(action=SellerAction.no_order))
    return InlineKeyboardMarkup(inline_keyboard=[[not_an_order], *keyboard.inline_keyboard])


def question_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [_button(_("⬅️ Back"), SellerCb(action=SellerAction.back)), person_button()],
            [_button(_("⬅️ Main menu"), MenuCb(action=MenuAction.home))],
        ]
    )


def ask_for_question(order: Order | None) -> str:
    if order is None:
        return _(
            "Write your question for the seller in one message. If it is about an item, "
            "paste the link to its page."
        )
    return _(
        "Write your question about “{title}” (order #{number}) in one message, and I will "
        "pass it on."
    ).format(title=order.title, number=order.order_id)


async def choose_order(target: Message, state: FSMContext, svc: Services, account: User) -> None:
    await state.set_state(SellerDialog.order)
    await target.answer(
        _(
            "Sellers don't take messages from buyers directly: our support team passes "
            "your question on and brings the answer back here. Many sellers are abroad, "
            "so this is also the faster way.\n\nWhich order is the question about?"
        ),
        reply_markup=await order_choice(svc, Buyer.of(account)),
    )


async def start_question(target: ChatMessage, state: FSMContext, order: Order | None) -> None:
    await state.set_state(SellerDialog.question)
    await state.update_data(order_id=order.order_id if order else None)
    await target.answer(ask_for_question(order), reply_markup=question_keyboard())


async def question_about(
    target: ChatMessage,
    order: Order,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
) -> None:
    """Ask for the question about the order the buyer chose."""
    await start_question(target, state, order)


# From the order list here, or from an order's card in "My orders".
STEP = OrderStep(Purpose.seller, SellerDialog.order, begin=question_about)


async def enter(query: CallbackQuery, state: FSMContext, svc: Services, account: User) -> None:
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await choose_order(query.message, state, svc, account)


async def turn_page(
    query: CallbackQuery, callback_data: OrderPageCb, svc: Services, account: User
) -> None:
    await show_page(query, await order_choice(svc, Buyer.of(account), callback_data.page))


async def no_order(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await start_question(query.message, state, None)


async def order_not_text(message: Message) -> None:
    await message.answer(_("Please pick an order with the buttons above, or type its number."))


async def back(query: CallbackQuery, state: FSMContext, svc: Services, account: User) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await choose_order(query.message, state, svc, account)


async def asked(
    message: Message, state: FSMContext, svc: Services, account: User, i18n: I18n
) -> None:
    await open_case_from_text(
        message,
        state,
        svc,
        account,
        i18n,
        type_=CaseType.seller_question,
        order_id=(await state.get_data()).get("order_id"),
        intro=_("Support will pass your question to the seller and bring the answer here."),
    )


async def question_not_text(message: Message) -> None:
    await message.answer(_("Please write your question in words, in one message."))


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(
        enter, MenuCb.filter(F.action == MenuAction.seller), StateFilter("*")
    )
    router.callback_query.register(
        turn_page, OrderPageCb.filter(F.purpose == Purpose.seller), SellerDialog.order
    )
    router.callback_query.register(
        no_order, SellerCb.filter(F.action == SellerAction.no_order), SellerDialog.order
    )
    router.message.register(order_not_text, SellerDialog.order, ~F.text)
    take_order(router, STEP)
    router.callback_query.register(
        back, SellerCb.filter(F.action == SellerAction.back), SellerDialog.question
    )
    router.message.register(asked, SellerDialog.question, F.text)
    router.message.register(question_not_text, SellerDialog.question)
    return router
