"""Cancel an order: at once when the rules allow it, through an agent's review when not.

The rules are `bot.domain.policies.cancel_verdict`; this dialog asks, confirms and reports.
"""

from __future__ import annotations

from enum import StrEnum
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
from bot.domain.policies import CancelVerdict
from bot.i18n import N_, ngettext
from bot.services import Services
from bot.ui.callbacks import MenuAction
from bot.ui.keyboards import main_menu, with_way_out
from bot.ui.replies import ChatMessage, open_case, reply
from bot.ui.texts import refund_arrival
from handlers.free_text import FreeText
from handlers.order_picker import (
    OrderCb,
    OrderQuestion,
    OrderStep,
    Purpose,
    ask,
    ask_order,
    given,
    order_summary,
)
from storage.models import Order, User

STATUSES = (OrderStatus.unpaid, OrderStatus.paid, OrderStatus.shipped)


class CancelDialog(StatesGroup):
    order = State()
    confirm = State()
    reason = FreeText()


class CancelAction(StrEnum):
    confirm = "ok"
    back = "back"


class CancelCb(CallbackData, prefix="cn"):
    action: CancelAction
    order_id: str
    """The order the button was shown for: a confirmation never applies to another one."""


class CancelReason(StrEnum):
    changed_mind = "mind"
    cheaper = "cheaper"
    mistake = "mistake"
    address = "address"
    slow = "slow"


class CancelReasonCb(CallbackData, prefix="cr"):
    reason: CancelReason


# The reasons buyers give most often; anything else they write in their own words.
REASONS = {
    CancelReason.changed_mind: N_("I changed my mind"),
    CancelReason.cheaper: N_("I found it cheaper elsewhere"),
    CancelReason.mistake: N_("Wrong item, size or colour ordered"),
    CancelReason.address: N_("Wrong delivery address or phone"),
    CancelReason.slow: N_("Delivery takes too long"),
}


def confirm_keyboard(order: Order, label: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=label, callback_data=CancelCb(action=CancelAction.confirm, order_id=order.order_id)
    )
    return with_way_out(builder, CancelCb(action=CancelAction.back, order_id=order.order_id))


def elsewhere_keyboard(order: Order) -> InlineKeyboardMarkup:
    """Where a buyer goes when the order can no longer be cancelled: for a delivered one,
    the refund and defect dialogs; for a paid one already cancelled, its refund. An order
    on its way has nothing to do until it arrives but Back and a person."""
    builder = InlineKeyboardBuilder()
    if order.status in DELIVERED:
        builder.button(
            text=_("💸 Ask for a refund"),
            callback_data=OrderCb(purpose=Purpose.refund, order_id=order.order_id),
        )
        builder.button(
            text=_("📦 Defective or damaged item"),
            callback_data=OrderCb(purpose=Purpose.defect, order_id=order.order_id),
        )
    elif order.status in (OrderStatus.cancelled, OrderStatus.refunded) and order.paid_at:
        builder.button(
            text=_("💸 When will my money be back?"),
            callback_data=OrderCb(purpose=Purpose.refund, order_id=order.order_id),
        )
    builder.adjust(1)
    return with_way_out(builder, CancelCb(action=CancelAction.back, order_id=order.order_id))


def reasons_keyboard(order: Order) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for reason, label in REASONS.items():
        builder.button(text=_(label), callback_data=CancelReasonCb(reason=reason))
    builder.adjust(1)
    return with_way_out(builder, CancelCb(action=CancelAction.back, order_id=order.order_id))


def review_hours(svc: Services) -> str:
    hours = svc.cases.response_hours(CaseType.cancel_review)
    return ngettext(
        "within {hours} hour, counting working days only",
        "within {hours} hours, counting working days only",
        hours,
    ).format(hours=hours)


async def show_order(
    target: ChatMessage,
    order: Order,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
) -> None:
    """Tell the buyer what cancelling this order means, and ask to confirm when it can go on."""
    verdict = policies.cancel_verdict(order, svc.settings, svc.clock.now())
    summary = order_summary(order)
    await state.update_data(order_id=order.order_id)  # for a person, should the buyer ask
    if verdict == CancelVerdict.closed:
        await state.set_state(CancelDialog.order)
        await target.answer(
            _("Your {order} is already {status}; there is nothing left to cancel.").format(
                order=summary, status=order_status_label(order.status)
            ),
            reply_markup=elsewhere_keyboard(order),
        )
        return
    if verdict == CancelVerdict.shipped:
        await state.set_state(CancelDialog.order)
        if order.status == OrderStatus.shipped:
            text = _(
                "Your {order} has already been handed to the delivery service, so it can "
                "no longer be cancelled.\n\nIf you don't need it any more, wait for the "
                "parcel: you can refuse it when it arrives, or return it after you receive "
                "it, and the money comes back after the return. If you have a question about "
                "the delivery, talk to a person."
            )
        else:
            text = _(
                "Your {order} has been delivered to you, so it can no longer be cancelled."
                "\n\nIf you don't need it, ask for a refund: you can return the item. If "
                "something is wrong with it, report it as defective or damaged."
            )
        await target.answer(text.format(order=summary), reply_markup=elsewhere_keyboard(order))
        return
    await state.set_state(CancelDialog.confirm)
    await state.update_data(shown=verdict.value)
    if verdict == CancelVerdict.unpaid:
        text = _("Cancel your {order}? It has not been paid, so nothing will be charged.").format(
            order=summary
        )
        label = _("✅ Yes, cancel the order")
        text += "\n\n" + _("A cancellation cannot be undone.")
    elif verdict == CancelVerdict.instant:
        ends = formatting.moment(
            policies.cancel_window_ends(order, svc.settings), ZoneInfo(svc.settings.timezone)
        )
        text = _(
            "Cancel your {order}? Until {time} a paid order is cancelled at once, and the "
            "money goes back the way you paid."
        ).format(order=summary, time=ends)
        label = _("✅ Yes, cancel the order")
        text += "\n\n" + _("A cancellation cannot be undone.")
    else:
        text = _(
            "Your {order} was placed too long ago to be cancelled at once: the seller may "
            "already be packing it.\n\nI can send a cancellation request to a support agent. "
            "You tell me the reason, and the agent answers {within}."
        ).format(order=summary, within=review_hours(svc))
        label = _("📝 Request a cancellation")
    await target.answer(text, reply_markup=confirm_keyboard(order, label))


async def open_review(
    target: ChatMessage,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
    *,
    reason: str,
    entry: Entry,
) -> None:
    """Pass the late cancellation request, with the buyer's reason, to an agent."""
    order_id = str((await state.get_data())["order_id"])
    await open_case(
        target,
        state,
        svc,
        account,
        i18n,
        type_=CaseType.cancel_review,
        order_id=order_id,
        reason=reason,
        entries=[entry],
        intro=_(
            "Your request to cancel order #{number} is with the support team. Until an "
            "agent decides, the order stays as it is."
        ).format(number=order_id),
    )


QUESTION = OrderQuestion(
    step=OrderStep(Purpose.cancel, CancelDialog.order, begin=show_order),
    menu=MenuAction.cancel,
    statuses=STATUSES,
    prompt=lambda: _("Which order do you want to cancel? Choose it below or type its number."),
    no_orders=lambda: _(
        "None of your orders can still be cancelled. If you mean an order that is not "
        "listed, type its number."
    ),
)


async def confirmed(
    query: CallbackQuery,
    callback_data: CancelCb,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
) -> None:
    data = await state.get_data()
    order = await svc.orders.find(Buyer.of(account), callback_data.order_id)
    if order is None or data.get("order_id") != callback_data.order_id:
        await query.answer(_("This button no longer works."))
        return
    now = svc.clock.now()
    verdict = policies.cancel_verdict(order, svc.settings, now)
    number = order.order_id
    if verdict == CancelVerdict.unpaid:
        await svc.orders.set_status(order, OrderStatus.cancelled)
        await state.clear()
        await svc.commit()
        await reply(
            query,
            _(
                "Done: order #{number} is cancelled. It was not paid, so nothing was charged."
            ).format(number=number),
            main_menu(),
        )
    elif verdict == CancelVerdict.instant:
        await svc.orders.set_status(
            order,
            OrderStatus.cancelled,
            refund_issued_at=policies.refund_issued_on_cancel(order, now),
        )
        await state.clear()
        await svc.commit()
        await reply(
            query,
            _("Done: order #{number} is cancelled and the refund is issued.").format(number=number)
            + "\n\n"
            + refund_arrival(order, svc.settings, just_issued=True),
            main_menu(),
        )
    elif verdict == CancelVerdict.review:
        await state.set_state(CancelDialog.reason)
        text = _(
            "Why do you want to cancel order #{number}? Choose a reason below or write it "
            "in your own words.\n\nPlease keep in mind: the agent can cancel the order now "
            "only for a weighty reason, such as a wrong address or a wrong item ordered. "
            "A change of mind or a lower price elsewhere is usually not enough."
        ).format(number=number)
        if data.get("shown") == CancelVerdict.instant:
            # The window closed while the buyer was reading: say so instead of surprising.
            text = _("The time for an instant cancellation has just run out.") + "\n\n" + text
        await reply(query, text, reasons_keyboard(order))
    elif query.message is not None:
        await query.answer()
        await show_order(query.message, order, state, svc, account, i18n)


async def confirm_expected(message: Message) -> None:
    await message.answer(
        _("Please use the buttons above: confirm, or Back to choose another order.")
    )


async def reason_picked(
    query: CallbackQuery,
    callback_data: CancelReasonCb,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
) -> None:
    label = REASONS[callback_data.reason]
    with i18n.use_locale(svc.settings.agent_locale):
        reason = _(label)
    await query.answer()
    if query.message is not None:
        entry = Entry(
            sender="buyer", text=_(label), sender_id=account.id, sender_name=account.first_name
        )
        await open_review(
            query.message,
            state,
            svc,
            account,
            i18n,
            reason=reason,
            entry=entry,
        )


async def reason_written(
    message: Message, state: FSMContext, svc: Services, account: User, i18n: I18n
) -> None:
    assert message.text is not None
    await open_review(
        message,
        state,
        svc,
        account,
        i18n,
        reason=message.text,
        entry=Entry.from_message(message),
    )


async def reason_expected(message: Message) -> None:
    await message.answer(_("Please choose a reason above or write it in words."))


def create_router() -> Router:
    router = Router(name=__name__)
    ask_order(router, QUESTION)
    router.callback_query.register(
        ask,
        CancelCb.filter(F.action == CancelAction.back),
        StateFilter(CancelDialog),
        given(question=QUESTION),
    )
    router.callback_query.register(
        confirmed,
        CancelCb.filter(F.action == CancelAction.confirm),
        StateFilter(CancelDialog.confirm),
    )
    router.message.register(confirm_expected, CancelDialog.confirm)
    router.callback_query.register(
        reason_picked, CancelReasonCb.filter(), StateFilter(CancelDialog.reason)
    )
    router.message.register(reason_written, CancelDialog.reason, F.text)
    router.message.register(reason_expected, CancelDialog.reason)
    return router
