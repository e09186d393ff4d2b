"""Choosing one of the buyer's own orders: from buttons, page by page, or by its number.

Dialogs show `ask_for_order(...)`, register `page_turner(...)` for their purpose, and
take the order from `chosen_order(...)` (a button) or `typed_order(...)` (a number).
The order id in a button is untrusted and a typed number may be anyone's: both are
looked up with `svc.orders.find(buyer, order_id)`, which only ever returns the buyer's
own order. An unknown number and someone else's get the same answer, with an offer
to pass the number as typed to an agent (this module's router handles that offer).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import suppress
from enum import StrEnum

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.domain import formatting
from bot.domain.cases import CaseType, Entry
from bot.domain.orders import Buyer, OrderSource, order_status_label
from bot.i18n import N_
from bot.services import Services
from bot.ui.callbacks import MenuAction, MenuCb
from bot.ui.keyboards import back_to_menu, main_menu
from bot.ui.replies import open_case, reply
from bot.ui.texts import MAX_TEXT, too_long
from storage.models import Order, User

PAGE_SIZE = 5


class Purpose(StrEnum):
    cancel = "c"
    refund = "r"
    defect = "d"
    seller = "s"
    view = "v"


class OrderCb(CallbackData, prefix="o"):
    purpose: Purpose
    order_id: str


class OrderPageCb(CallbackData, prefix="op"):
    purpose: Purpose
    page: int


class UnknownOrderCb(CallbackData, prefix="uo"):
    """Pass a number that is not among the buyer's orders to an agent, as typed."""

    purpose: Purpose
    number: str


class UnknownOrder(StatesGroup):
    describe = State()


# What the buyer was doing when the number was not found, for the agent's note.
PURPOSE_TOPICS = {
    Purpose.cancel: N_("cancelling an order"),
    Purpose.refund: N_("a refund"),
    Purpose.defect: N_("a defective or damaged item"),
    Purpose.seller: N_("a question for the seller"),
    Purpose.view: N_("their orders"),
}

# "100234", "№100234", "# 100234", "order 100234", "заказ № 100234"
ORDER_NUMBER = re.compile(
    r"(?:order|заказ)?\s*(?:№|#|no\.)?\s*([A-Za-z0-9][A-Za-z0-9_-]{0,39})", re.IGNORECASE
)


def typed_number(text: str) -> str | None:
    """The order number in what the buyer typed, or None when it does not look like one."""
    match = ORDER_NUMBER.fullmatch(text.strip())
    return match[1] if match else None


def order_summary(order: Order) -> str:
    """One line naming an order for the buyer: number, title, amount."""
    return _("order №{number} ({title}, {amount})").format(
        number=order.order_id,
        title=order.title,
        amount=formatting.money(order.amount, order.currency),
    )


def order_button_text(order: Order) -> str:
    title = order.title if len(order.title) <= 28 else order.title[:27] + "…"
    return f"{title} · №{order.order_id} · {order_status_label(order.status)}"


async def order_keyboard(
    orders: OrderSource,
    buyer: Buyer,
    purpose: Purpose,
    *,
    statuses: Sequence[str] | None = None,
    page: int = 0,
) -> tuple[InlineKeyboardMarkup, int]:
    """Buttons for one page of the buyer's orders, newest first; and how many there are."""
    total = await orders.count(buyer, statuses=statuses)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    found = await orders.page(buyer, statuses=statuses, offset=page * PAGE_SIZE, limit=PAGE_SIZE)
    builder = InlineKeyboardBuilder()
    for order in found:
        builder.row(
            InlineKeyboardButton(
                text=order_button_text(order),
                callback_data=OrderCb(purpose=purpose, order_id=order.order_id).pack(),
            )
        )
    if pages > 1:
        navigation = []
        if page > 0:
            navigation.append(
                InlineKeyboardButton(
                    text=_("◀️ Newer"),
                    callback_data=OrderPageCb(purpose=purpose, page=page - 1).pack(),
                )
            )
        navigation.append(
            InlineKeyboardButton(
                text=_("Page {page} of {pages}").format(page=page + 1, pages=pages),
                callback_data=OrderPageCb(purpose=purpose, page=page).pack(),
            )
        )
        if page < pages - 1:
            navigation.append(
                InlineKeyboardButton(
                    text=_("Older ▶️"),
                    callback_data=OrderPageCb(purpose=purpose, page=page + 1).pack(),
                )
            )
        builder.row(*navigation)
    builder.row(
        InlineKeyboardButton(
            text=_("⬅️ Main menu"), callback_data=MenuCb(action=MenuAction.home).pack()
        )
    )
    return builder.as_markup(), total


async def ask_for_order(
    target: Message | CallbackQuery,
    svc: Services,
    account: User,
    purpose: Purpose,
    *,
    statuses: Sequence[str],
    prompt: str,
    no_orders: str,
) -> None:
    """Show the buyer's orders in `statuses` as buttons, or say there are none to pick."""
    markup, total = await order_keyboard(svc.orders, Buyer.of(account), purpose, statuses=statuses)
    text = prompt if total else no_orders
    if isinstance(target, CallbackQuery):
        await reply(target, text, markup)
    else:
        await target.answer(text, reply_markup=markup)


def page_turner(router: Router, purpose: Purpose, statuses: Sequence[str]) -> None:
    """Let the order list of `purpose` turn its pages (in place, from any state)."""

    @router.callback_query(OrderPageCb.filter(F.purpose == purpose), StateFilter("*"))
    async def turn_page(
        query: CallbackQuery, callback_data: OrderPageCb, svc: Services, account: User
    ) -> None:
        markup, _total = await order_keyboard(
            svc.orders, Buyer.of(account), purpose, statuses=statuses, page=callback_data.page
        )
        await query.answer()
        if isinstance(query.message, Message):
            # Pressing the current page's own button changes nothing; Telegram says so.
            with suppress(TelegramBadRequest):
                await query.message.edit_reply_markup(reply_markup=markup)


def not_found_text(number: str) -> str:
    return _(
        "I can't find order №{number} among your orders. Check the number, or choose the "
        "order from the list.\n\nIf the number is right (for example, the order is not on "
        "record with me yet), I can pass your question to a support agent with this number."
    ).format(number=number)


def not_found_keyboard(purpose: Purpose, number: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("📝 Ask support about №{number}").format(number=number),
        callback_data=UnknownOrderCb(purpose=purpose, number=number),
    )
    builder.button(text=_("⬅️ Main menu"), callback_data=MenuCb(action=MenuAction.home))
    builder.adjust(1)
    return builder.as_markup()


async def typed_order(
    message: Message, svc: Services, account: User, purpose: Purpose
) -> Order | None:
    """The buyer's own order whose number they typed.

    Otherwise answers for itself (not a number; or not found, with the offer to ask
    support about the number) and returns None.
    """
    number = typed_number(message.text or "")
    if number is None:
        await message.answer(
            _("Please type the order number (for example, 100234) or choose an order above.")
        )
        return None
    order = await svc.orders.find(Buyer.of(account), number)
    if order is None:
        await message.answer(
            not_found_text(number), reply_markup=not_found_keyboard(purpose, number)
        )
    return order


async def chosen_order(
    query: CallbackQuery, callback_data: OrderCb, svc: Services, account: User
) -> Order | None:
    """The buyer's own order behind a pressed order button.

    Button data can be forged: an order that is not the buyer's is answered exactly
    like an unknown number, and None is returned.
    """
    order = await svc.orders.find(Buyer.of(account), callback_data.order_id)
    if order is None:
        number = callback_data.order_id
        offer = typed_number(number) == number
        await reply(
            query,
            not_found_text(number),
            not_found_keyboard(callback_data.purpose, number) if offer else None,
        )
        return None
    await query.answer()
    return order


def create_router() -> Router:
    """The offer to pass an order number the bot cannot find to an agent."""
    router = Router(name=__name__)

    @router.callback_query(UnknownOrderCb.filter(), StateFilter("*"))
    async def offer_taken(
        query: CallbackQuery, callback_data: UnknownOrderCb, state: FSMContext
    ) -> None:
        number = typed_number(callback_data.number)
        if number is None:
            await reply(query, _("This button no longer works."), main_menu())
            return
        await state.clear()
        await state.set_state(UnknownOrder.describe)
        await state.update_data(number=number, purpose=callback_data.purpose.value)
        await reply(
            query,
            _(
                "Tell me in one message what you need with order №{number}, and I will pass "
                "it to a support agent together with the number."
            ).format(number=number),
            back_to_menu(),
        )

    @router.message(UnknownOrder.describe, F.text)
    async def described(
        message: Message, state: FSMContext, svc: Services, account: User, i18n: I18n
    ) -> None:
        assert message.text is not None
        if len(message.text) > MAX_TEXT:
            await message.answer(too_long())
            return
        data = await state.get_data()
        number = str(data["number"])
        with i18n.use_locale(svc.settings.agent_locale):
            note = _(
                "The buyer asked about order №{number} ({topic}); it is not among their "
                "orders on record."
            ).format(number=number, topic=_(PURPOSE_TOPICS[Purpose(data["purpose"])]))
            reason = _("Order number as the buyer typed it: {number}. {text}").format(
                number=number, text=message.text
            )
        # The number may be another buyer's order: the case keeps it only as typed
        # words, never as a link to that order.
        await open_case(
            message,
            state,
            svc,
            account,
            i18n,
            type_=CaseType.unknown_order,
            reason=reason,
            entries=[Entry(sender="bot", text=note), Entry.from_message(message)],
        )

    @router.message(UnknownOrder.describe)
    async def not_described(message: Message) -> None:
        await message.answer(
            _("Please describe your question in words first; you can send photos after that.")
        )

    return router
