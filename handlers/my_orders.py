"""My orders: how many sit in each state, then the orders as buttons, page by page;
an order's card has buttons into the dialogs that apply to it."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.domain import formatting
from bot.domain.orders import (
    ACTIVE,
    DELIVERED,
    Buyer,
    OrderStatus,
    PaymentMethod,
    order_status_label,
)
from bot.i18n import N_, ngettext
from bot.services import Services
from bot.ui.callbacks import MenuAction, MenuCb
from bot.ui.keyboards import main_menu
from handlers.order_picker import OrderCb, OrderPageCb, Purpose, order_keyboard, show_page
from storage.models import Order, User

METHOD_LABELS = {
    PaymentMethod.card: N_("by bank card"),
    PaymentMethod.wallet: N_("by e-wallet"),
    PaymentMethod.bonus: N_("with marketplace bonuses"),
}
# The dialogs that make sense for an order in each state.
ACTIONS: dict[str, tuple[Purpose | MenuAction, ...]] = {
    OrderStatus.unpaid: (Purpose.cancel, MenuAction.payment, Purpose.seller),
    OrderStatus.paid: (Purpose.cancel, Purpose.seller),
    OrderStatus.shipped: (Purpose.defect, Purpose.seller),
    OrderStatus.delivered: (Purpose.refund, Purpose.defect, Purpose.seller),
    OrderStatus.awaiting_review: (Purpose.refund, Purpose.defect, Purpose.seller),
    OrderStatus.cancelled: (Purpose.refund, Purpose.seller),
    OrderStatus.refunded: (Purpose.refund, Purpose.seller),
}


def summary(counts: dict[str, int]) -> str:
    """ "You have 8 orders:", a line per state, and how many are active (paid, not with
    the buyer yet), with real plural forms."""
    total = sum(counts.values())
    lines = [ngettext("You have {count} order:", "You have {count} orders:", total)]
    lines[0] = lines[0].format(count=formatting.number(total))
    for status in OrderStatus:
        n = counts.get(status, 0)
        if n:
            label = order_status_label(status)
            orders = ngettext("{count} order", "{count} orders", n).format(
                count=formatting.number(n)
            )
            lines.append(f"• {label[:1].upper()}{label[1:]}: {orders}")
    active = sum(counts.get(status, 0) for status in ACTIVE)
    if active:
        lines.append(
            ngettext(
                "{count} order is active: paid and not with you yet.",
                "{count} orders are active: paid and not with you yet.",
                active,
            ).format(count=formatting.number(active))
        )
    return "\n".join(lines)


def order_card(order: Order, tz: ZoneInfo) -> str:
    """The order as its buyer reads it: title, amount, state and dates."""
    lines = [
        f"🧾 {order.title}",
        _("Order #{number}").format(number=order.order_id),
        _("Amount: {amount}").format(amount=formatting.money(order.amount, order.currency)),
        _("Status: {status}").format(status=order_status_label(order.status)),
        _("Placed: {moment}").format(moment=formatting.moment(order.placed_at, tz)),
    ]
    if order.paid_at is not None:
        lines.append(
            _("Paid: {moment}, {method}").format(
                moment=formatting.moment(order.paid_at, tz),
                method=_(METHOD_LABELS[PaymentMethod(order.payment_method)]),
            )
        )
    if order.refund_issued_at is not None:
        lines.append(
            _("Refund issued: {date}").format(date=formatting.day(order.refund_issued_at, tz))
        )
    return "\n".join(lines)


def order_actions(order: Order) -> InlineKeyboardMarkup:
    # A delivered order has no refund yet: the buyer can ask for one.
    refund = _("💸 Ask for a refund") if order.status in DELIVERED else _("💸 Where is my refund")
    labels = {
        Purpose.cancel: _("❌ Cancel this order"),
        Purpose.refund: refund,
        Purpose.defect: _("📦 Defective or damaged"),
        Purpose.seller: _("✉️ Ask the seller"),
        MenuAction.payment: _("💳 The payment fails"),
    }
    builder = InlineKeyboardBuilder()
    for action in ACTIONS.get(order.status, (Purpose.seller,)):
        if action is Purpose.refund and order.paid_at is None:
            continue  # never paid: there is no money to return
        data = (
            MenuCb(action=action)
            if isinstance(action, MenuAction)
            else OrderCb(purpose=action, order_id=order.order_id)
        )
        builder.button(text=labels[action], callback_data=data)
    builder.button(text=_("⬅️ All my orders"), callback_data=MenuCb(action=MenuAction.orders))
    builder.button(text=_("⬅️ Main menu"), callback_data=MenuCb(action=MenuAction.home))
    builder.adjust(1)
    return builder.as_markup()


async def my_orders(query: CallbackQuery, state: FSMContext, svc: Services, account: User) -> None:
    await state.clear()
    await query.answer()
    if not isinstance(query.message, Message):
        return
    buyer = Buyer.of(account)
    counts = await svc.orders.count_by_status(buyer)
    if not counts:
        await query.message.answer(
            _(
                "I can't see any orders of yours yet. If you shop on the marketplace, open "
                "the personal link from your account page there: it connects your account "
                "to this chat. Or choose a topic below and type the order number."
            ),
            reply_markup=main_menu(),
        )
        return
    keyboard, _total = await order_keyboard(svc.orders, buyer, Purpose.view)
    text = summary(counts) + "\n\n" + _("Newest first. Tap an order to see it:")
    await query.message.answer(text, reply_markup=keyboard)


async def turn_page(
    query: CallbackQuery, callback_data: OrderPageCb, svc: Services, account: User
) -> None:
    keyboard, _total = await order_keyboard(
        svc.orders, Buyer.of(account), Purpose.view, page=callback_data.page
    )
    await show_page(query, keyboard)


async def show_order(
    query: CallbackQuery, callback_data: OrderCb, svc: Services, account: User
) -> None:
    order = await svc.orders.find(Buyer.of(account), callback_data.order_id)
    if order is None:
        await query.answer(_("I can't find this order among yours."), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        tz = ZoneInfo(svc.settings.timezone)
        await query.message.answer(order_card(order, tz), reply_markup=order_actions(order))


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(
        my_orders, MenuCb.filter(F.action == MenuAction.orders), StateFilter("*")
    )
    router.callback_query.register(
        turn_page, OrderPageCb.filter(F.purpose == Purpose.view), StateFilter("*")
    )
    router.callback_query.register(
        show_order, OrderCb.filter(F.purpose == Purpose.view), StateFilter("*")
    )
    return router
