"""Refund: when the money is due and where it goes; a case when a person has to look.

The rules are `bot.domain.policies.refund_verdict`; this dialog asks and reports.
"""

from __future__ import annotations

from enum import StrEnum
from typing import assert_never
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.domain import formatting, policies
from bot.domain.cases import CaseType, Entry
from bot.domain.orders import DELIVERED, Buyer, OrderStatus, order_status_label
from bot.domain.policies import RefundVerdict
from bot.services import Services
from bot.ui.callbacks import MenuAction
from bot.ui.keyboards import with_way_out
from bot.ui.replies import ChatMessage, open_case, open_case_from_text, reply
from bot.ui.texts import refund_arrival
from handlers.free_text import FreeText
from handlers.order_picker import (
    OrderCb,
    OrderQuestion,
    OrderStep,
    Purpose,
    ask,
    ask_order,
    order_summary,
)
from storage.models import Order, User

STATUSES = (OrderStatus.cancelled, OrderStatus.refunded, *DELIVERED)


class RefundDialog(StatesGroup):
    order = State()
    why = State()
    other = FreeText()


class RefundAction(StrEnum):
    not_received = "lost"
    other = "other"
    back = "back"


class RefundCb(CallbackData, prefix="rf"):
    action: RefundAction
    order_id: str


def back_keyboard(
    order: Order, builder: InlineKeyboardBuilder | None = None
) -> InlineKeyboardMarkup:
    return with_way_out(
        builder or InlineKeyboardBuilder(),
        RefundCb(action=RefundAction.back, order_id=order.order_id),
    )


def onward_keyboard(order: Order, purpose: Purpose, label: str) -> InlineKeyboardMarkup:
    """A button into another dialog about the same order, then Back and a person."""
    builder = InlineKeyboardBuilder()
    builder.button(text=label, callback_data=OrderCb(purpose=purpose, order_id=order.order_id))
    return back_keyboard(order, builder)


def why_keyboard(order: Order) -> InlineKeyboardMarkup:
    """What is wrong with a delivered order; a defect goes to the defect dialog."""
    builder = InlineKeyboardBuilder()
    defect = OrderCb(purpose=Purpose.defect, order_id=order.order_id)
    builder.button(text=_("🔧 It is defective or damaged"), callback_data=defect)
    builder.button(text=_("🔍 It is not as described"), callback_data=defect)
    builder.button(
        text=_("📭 I did not receive it"),
        callback_data=RefundCb(action=RefundAction.not_received, order_id=order.order_id),
    )
    builder.button(
        text=_("✏️ Something else"),
        callback_data=RefundCb(action=RefundAction.other, order_id=order.order_id),
    )
    builder.adjust(1)
    return back_keyboard(order, builder)


async def show_order(
    target: ChatMessage,
    order: Order,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
) -> None:
    """Answer the refund question for this order, opening a case when a person must look."""
    verdict = policies.refund_verdict(order, svc.settings, svc.clock.now())
    summary = order_summary(order)
    number = order.order_id
    await state.set_state(RefundDialog.order)
    await state.update_data(order_id=number)
    tz = ZoneInfo(svc.settings.timezone)
    match verdict:
        case RefundVerdict.nothing_charged:
            await target.answer(
                _(
                    "Your {order} was not paid, so nothing was charged and there is no money "
                    "to return."
                ).format(order=summary),
                reply_markup=back_keyboard(order),
            )
        case RefundVerdict.not_cancelled:
            await target.answer(
                _(
                    "Your {order} is paid and awaiting shipment; no refund has been issued for "
                    "it. To get the money back, cancel the order first."
                ).format(order=summary),
                reply_markup=onward_keyboard(order, Purpose.cancel, _("❌ Cancel this order")),
            )
        case RefundVerdict.in_transit:
            await target.answer(
                _(
                    "Your {order} is on its way, so no money has been paid back for it. If "
                    "you don't need it any more, wait for the parcel: you can refuse it when "
                    "it arrives, or return it after you receive it, and the money comes back "
                    "after the return. If it arrives damaged or not as described, report it "
                    "here and support will arrange the refund."
                ).format(order=summary),
                reply_markup=back_keyboard(order),
            )
        case RefundVerdict.delivered:
            await state.set_state(RefundDialog.why)
            await target.answer(
                _("Your {order} is delivered. What is wrong with it?").format(order=summary),
                reply_markup=why_keyboard(order),
            )
        case RefundVerdict.on_balance | RefundVerdict.on_the_way:
            assert order.refund_issued_at is not None
            await target.answer(
                _("The refund for your {order} was issued on {date}.").format(
                    order=summary, date=formatting.day(order.refund_issued_at, tz)
                )
                + "\n\n"
                + refund_arrival(order, svc.settings),
                reply_markup=back_keyboard(order),
            )
        case RefundVerdict.overdue:
            assert order.refund_issued_at is not None
            issued = order.refund_issued_at
            due = policies.refund_due(issued, svc.settings)
            # Dates in each reader's own language: the note's agent, the intro's buyer.
            with i18n.use_locale(svc.settings.agent_locale):
                note = _(
                    "Refund for order #{number} issued {issued}, due by {due}; the buyer says "
                    "it has not arrived."
                ).format(
                    number=number, issued=formatting.day(issued, tz), due=formatting.day(due, tz)
                )
            intro = _(
                "The refund for your {order} was issued on {issued} and should have arrived "
                "by {due}. I have asked a support agent to find out where it is."
            ).format(order=summary, issued=formatting.day(issued, tz), due=formatting.day(due, tz))
            await ask_agent(
                target, state, svc, account, i18n, order, CaseType.refund_not_received, note, intro
            )
        case RefundVerdict.unrecorded:
            with i18n.use_locale(svc.settings.agent_locale):
                note = _(
                    "Order #{number} is {status} after payment, but no refund is on record. "
                    "Please check."
                ).format(number=number, status=order_status_label(order.status))
            intro = _(
                "Your {order} is cancelled, but I have no record of its refund yet, so I have "
                "passed it to a support agent to check."
            ).format(order=summary)
            await ask_agent(
                target, state, svc, account, i18n, order, CaseType.refund_check, note, intro
            )
        case _:
            assert_never(verdict)


async def ask_agent(
    target: ChatMessage,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
    order: Order,
    type_: CaseType,
    note: str,
    intro: str,
) -> None:
    """Open a case about the order with the bot's `note` for the agent; tell the buyer `intro`."""
    await open_case(
        target,
        state,
        svc,
        account,
        i18n,
        order_id=order.order_id,
        type_=type_,
        intro=intro,
        entries=[Entry(sender="bot", text=note)],
        reason=note,
    )


QUESTION = OrderQuestion(
    step=OrderStep(Purpose.refund, RefundDialog.order, begin=show_order),
    menu=MenuAction.refund,
    statuses=STATUSES,
    prompt=lambda: _("Which order is the refund about? Choose it below or type its number."),
    no_orders=lambda: _(
        "You have no cancelled, refunded or delivered orders. If you mean an order that "
        "is not listed, type its number."
    ),
)


async def current_order(
    query: CallbackQuery,
    callback_data: RefundCb,
    state: FSMContext,
    svc: Services,
    account: User,
) -> Order | None:
    """The order this dialog is about, if the pressed button belongs to it."""
    data = await state.get_data()
    order = await svc.orders.find(Buyer.of(account), callback_data.order_id)
    if order is None or data.get("order_id") != callback_data.order_id:
        await query.answer(_("This button no longer works."))
        return None
    return order


async def back(
    query: CallbackQuery,
    callback_data: RefundCb,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
) -> None:
    order = await current_order(query, callback_data, state, svc, account)
    if order is None:
        return
    if await state.get_state() == RefundDialog.other and query.message is not None:
        await query.answer()
        await show_order(query.message, order, state, svc, account, i18n)
        return
    await ask(query, state, svc, account, QUESTION)


async def not_received(
    query: CallbackQuery,
    callback_data: RefundCb,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
) -> None:
    order = await current_order(query, callback_data, state, svc, account)
    if order is None or query.message is None:
        return
    await query.answer()
    with i18n.use_locale(svc.settings.agent_locale):
        note = _(
            "Order #{number} shows as delivered, but the buyer says they did not receive it."
        ).format(number=order.order_id)
    intro = _(
        "I'm sorry your {order} hasn't reached you although it shows as delivered. "
        "A support agent will find out what happened with the delivery."
    ).format(order=order_summary(order))
    await ask_agent(
        query.message, state, svc, account, i18n, order, CaseType.not_received, note, intro
    )


async def other(
    query: CallbackQuery,
    callback_data: RefundCb,
    state: FSMContext,
    svc: Services,
    account: User,
) -> None:
    order = await current_order(query, callback_data, state, svc, account)
    if order is None:
        return
    await state.set_state(RefundDialog.other)
    await reply(
        query,
        _("Tell me in one message what is wrong with order #{number}.").format(
            number=order.order_id
        ),
        back_keyboard(order),
    )


async def why_expected(message: Message) -> None:
    await message.answer(_("Please choose what is wrong with the order using the buttons above."))


async def other_written(
    message: Message, state: FSMContext, svc: Services, account: User, i18n: I18n
) -> None:
    await open_case_from_text(
        message,
        state,
        svc,
        account,
        i18n,
        type_=CaseType.general,
        order_id=str((await state.get_data())["order_id"]),
        intro=_("Thank you, I have passed it on."),
    )


async def other_expected(message: Message) -> None:
    await message.answer(
        _("Please describe the problem in words first; you can send photos after that.")
    )


def create_router() -> Router:
    router = Router(name=__name__)
    ask_order(router, QUESTION)
    router.callback_query.register(
        back, RefundCb.filter(F.action == RefundAction.back), StateFilter(RefundDialog)
    )
    router.callback_query.register(
        not_received,
        RefundCb.filter(F.action == RefundAction.not_received),
        StateFilter(RefundDialog.why),
    )
    router.callback_query.register(
        other, RefundCb.filter(F.action == RefundAction.other), StateFilter(RefundDialog.why)
    )
    router.message.register(why_expected, RefundDialog.why)
    router.message.register(other_written, RefundDialog.other, F.text)
    router.message.register(other_expected, RefundDialog.other)
    return router
