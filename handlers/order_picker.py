"""Choosing one of the buyer's own orders: from buttons, page by page, or by its number.

A dialog about an order declares its `OrderStep` (purpose, the state where a number
is typed, and how the dialog begins with the order) and, when the menu opens it with
a list, an `OrderQuestion` (which orders to list, the prompt). `ask_order(router, ...)`
or `take_order(router, ...)` registers this module's shared handlers for it: `ask`
(the list), `turn_page`, `picked` (a button, from any state) and `typed` (a number).
The order id in a button is untrusted and a typed number may be anyone's: both are
looked up with `svc.orders.find(buyer, order_id)`, which only ever returns the buyer's
own order. An unknown number and someone else's get the same answer, with an offer
to pass the number as typed to an agent (this module's router handles that offer).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.domain import formatting
from bot.domain.cases import CaseType, Entry
from bot.domain.orders import Buyer, OrderSource, order_status_label
from bot.i18n import N_
from bot.services import Services
from bot.ui.callbacks import MenuAction, MenuCb
from bot.ui.keyboards import back_to_menu, main_menu, person_button
from bot.ui.replies import ChatMessage, open_case, reply
from handlers.free_text import FreeText
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


class PageNumberCb(CallbackData, prefix="pn"):
    """The "Page 2 of 3" button of a list: it only says where the buyer is."""


class UnknownOrderCb(CallbackData, prefix="uo"):
    """Pass a number that is not among the buyer's orders to an agent, as typed."""

    purpose: Purpose
    number: str


class UnknownOrder(StatesGroup):
    describe = FreeText()


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
    return _("order #{number} ({title}, {amount})").format(
        number=order.order_id,
        title=order.title,
        amount=formatting.money(order.amount, order.currency),
    )


def order_button_text(order: Order) -> str:
    title = order.title if len(order.title) <= 28 else order.title[:27] + "…"
    return _("{title} · #{number} · {status}").format(
        title=title, number=order.order_id, status=order_status_label(order.status)
    )


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
                callback_data=PageNumberCb().pack(),
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
        ),
        person_button(),
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


def given(**data: Any) -> Callable[[TelegramObject], dict[str, Any]]:
    """A filter that always passes and hands `data` to the handler as keyword arguments
    (aiogram merges a filter's dict into the handler's data)."""

    def hand_over(_event: TelegramObject) -> dict[str, Any]:
        return data

    return hand_over


async def turn_page(
    query: CallbackQuery,
    callback_data: OrderPageCb,
    svc: Services,
    account: User,
    statuses: Sequence[str],
) -> None:
    """Show another page of an order list, in place."""
    markup, _total = await order_keyboard(
        svc.orders,
        Buyer.of(account),
        callback_data.purpose,
        statuses=statuses,
        page=callback_data.page,
    )
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=markup)


def page_turner(router: Router, purpose: Purpose, statuses: Sequence[str]) -> None:
    """Let the order list of `purpose` turn its pages (in place, from any state)."""
    router.callback_query.register(
        turn_page,
        OrderPageCb.filter(F.purpose == purpose),
        StateFilter("*"),
        given(statuses=statuses),
    )


async def show_page(query: CallbackQuery, keyboard: InlineKeyboardMarkup) -> None:
    """Put another page of a list under the message whose page button was pressed."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(query.message.text or "", reply_markup=keyboard)


async def page_number(query: CallbackQuery) -> None:
    """The page-number button: nothing to do, and nothing to say."""
    await query.answer()


def not_found_text(number: str) -> str:
    return _(
        "I can't find order #{number} among your orders. Check the number, or choose the "
        "order from the list.\n\nIf the number is right (for example, the order is not on "
        "record with me yet), I can pass your question to a support agent with this number."
    ).format(number=number)


def not_found_keyboard(purpose: Purpose, number: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(
        text=_("📝 Ask support about #{number}").format(number=number),
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
            "Tell me in one message what you need with order #{number}, and I will pass "
            "it to a support agent together with the number."
        ).format(number=number),
        back_to_menu(),
    )


async def described(
    message: Message, state: FSMContext, svc: Services, account: User, i18n: I18n
) -> None:
    data = await state.get_data()
    number = str(data["number"])
    with i18n.use_locale(svc.settings.agent_locale):
        note = _(
            "The buyer asked about order #{number} ({topic}); it is not among their "
            "orders on record."
        ).format(number=number, topic=_(PURPOSE_TOPICS[Purpose(data["purpose"])]))
        reason = _("Order number as the buyer typed it: {number}. {text}").format(
            number=number, text=message.text or ""
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


async def not_described(message: Message) -> None:
    await message.answer(
        _("Please describe your question in words first; you can send photos after that.")
    )


class Begin(Protocol):
    """What a dialog does once it knows the buyer's order."""

    async def __call__(
        self,
        target: ChatMessage,
        order: Order,
        state: FSMContext,
        svc: Services,
        account: User,
        i18n: I18n,
    ) -> None: ...


@dataclass(frozen=True)
class OrderStep:
    """A dialog's first step: which of the buyer's own orders it is about.

    The order comes from a pressed order button of `purpose` (from any state: order
    cards in "My orders" lead here too) or from a number typed at `state`; then the
    dialog `begin`s with it.
    """

    purpose: Purpose
    state: State
    begin: Begin


@dataclass(frozen=True)
class OrderQuestion:
    """How a dialog opens from the menu: it lists the buyer's orders in `statuses`."""

    step: OrderStep
    menu: MenuAction
    statuses: tuple[str, ...]
    prompt: Callable[[], str]
    no_orders: Callable[[], str]
    """Both texts are made when shown, in the buyer's language."""


async def ask(
    query: CallbackQuery, state: FSMContext, svc: Services, account: User, question: OrderQuestion
) -> None:
    """(Re)start a dialog at its order step: the buyer's orders that fit, as buttons."""
    await state.clear()
    await state.set_state(question.step.state)
    await ask_for_order(
        query,
        svc,
        account,
        question.step.purpose,
        statuses=question.statuses,
        prompt=question.prompt(),
        no_orders=question.no_orders(),
    )


async def picked(
    query: CallbackQuery,
    callback_data: OrderCb,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
    step: OrderStep,
) -> None:
    order = await chosen_order(query, callback_data, svc, account)
    if order is None:
        await state.set_state(step.state)
    elif query.message is not None:
        await step.begin(query.message, order, state, svc, account, i18n)


async def typed(
    message: Message,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
    step: OrderStep,
) -> None:
    order = await typed_order(message, svc, account, step.purpose)
    if order is not None:
        await step.begin(message, order, state, svc, account, i18n)


def take_order(router: Router, step: OrderStep) -> None:
    """Register the order step: a pressed order button or a typed number begins the dialog."""
    router.callback_query.register(
        picked, OrderCb.filter(F.purpose == step.purpose), StateFilter("*"), given(step=step)
    )
    router.message.register(typed, step.state, given(step=step))


def ask_order(router: Router, question: OrderQuestion) -> None:
    """Register a dialog's opening from the menu, its order list's pages and its order step."""
    page_turner(router, question.step.purpose, question.statuses)
    router.callback_query.register(
        ask, MenuCb.filter(F.action == question.menu), StateFilter("*"), given(question=question)
    )
    take_order(router, question.step)


def create_router() -> Router:
    """The offer to pass an order number the bot cannot find to an agent."""
    router = Router(name=__name__)
    router.callback_query.register(page_number, PageNumberCb.filter(), StateFilter("*"))
    router.callback_query.register(offer_taken, UnknownOrderCb.filter(), StateFilter("*"))
    router.message.register(described, UnknownOrder.describe, F.text)
    router.message.register(not_described, UnknownOrder.describe)
    return router
