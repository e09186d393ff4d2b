"""Buyers who type instead of tapping: free text outside a dialog, understood.

The recogniser (`bot.intents`) says which request the words name and finds order
numbers; this router confirms before anything happens. A clear request gets one
question with a button naming it ("Cancel order #RX-1002 (Backpack)?" [Yes] [No, show
the menu]); an unsure one gets the menu with the two best guesses first. Yes enters the
existing dialog at the right step. "Where is my order" is answered from the order data.

Numbers are looked up among the buyer's own orders only: another buyer's number reads
like an unknown one. With an open case, messages keep going to the agents (the relay
after this router); one that clearly starts a different request is relayed and the
buyer is offered that request too. Inside a dialog typed text keeps its meaning there;
only a clear "talk to a person" is answered from any step (`create_anywhere_router`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.domain import formatting, policies
from bot.domain.cases import CaseType
from bot.domain.orders import ACTIVE, DELIVERED, Buyer, OrderStatus
from bot.domain.policies import CancelVerdict, RefundVerdict
from bot.i18n import N_
from bot.intents import Intent, Recogniser, Understanding
from bot.services import Services
from bot.ui.callbacks import MenuAction, MenuCb
from bot.ui.keyboards import language_picker, main_menu
from bot.ui.replies import ChatMessage
from bot.ui.texts import refund_arrival
from handlers import cancel_order, defect, my_cases, payment, refund, relay
from handlers.order_picker import OrderCb, Purpose, UnknownOrder, ask_for_order, order_button_text
from handlers.person import PersonDialog
from storage.models import Order, User


class IntentCb(CallbackData, prefix="it"):
    """Yes to a request understood from typed text; the order is checked again."""

    intent: Intent
    order_id: str = ""


class WhereCb(CallbackData, prefix="wo"):
    """Where is this order (one of the buyer's, checked again on the press)."""

    order_id: str


# Yes to these starts a dialog that may end without a case: it is counted for the report.
COUNTED = (Intent.cancel, Intent.refund, Intent.defect, Intent.payment)
# Requests a buyer with an open case is offered besides the relay.
OFFERED_WITH_CASE = (
    Intent.cancel,
    Intent.refund,
    Intent.defect,
    Intent.payment,
    Intent.seller,
    Intent.where_order,
)
# The case types that already are that request: no offer when it is the open one.
SAME_CASE = {
    Intent.cancel: {CaseType.cancel_review},
    Intent.refund: {CaseType.refund_not_received, CaseType.refund_check, CaseType.not_received},
    Intent.defect: {CaseType.defect},
    Intent.payment: {CaseType.payment},
    Intent.seller: {CaseType.seller_question},
    Intent.where_order: {CaseType.not_received},
}
# A dialog entered without an order starts at its order list: (purpose, the dialog's
# order-list state, the statuses it lists, what it asks, what it says with none to show).
ORDER_LISTS = {
    Intent.cancel: (
        Purpose.cancel,
        cancel_order.CancelDialog.order,
        cancel_order.STATUSES,
        N_("Which order do you want to cancel? Choose it below or type its number."),
        N_(
            "None of your orders can still be cancelled. If you mean an order that is not "
            "listed, type its number."
        ),
    ),
    Intent.refund: (
        Purpose.refund,
        refund.RefundDialog.order,
        refund.STATUSES,
        N_("Which order is the refund about? Choose it below or type its number."),
        N_(
            "You have no cancelled, refunded or delivered orders. If you mean an order that "
            "is not listed, type its number."
        ),
    ),
    Intent.defect: (
        Purpose.defect,
        defect.DefectDialog.order,
        defect.STATUSES,
        N_("Which order has a defective or damaged item? Choose it below or type its number."),
        N_(
            "You have no orders on their way or delivered. If you mean an order that is not "
            "listed, type its number."
        ),
    ),
}
# A clear "talk to a person" inside a dialog is at most this many words.
SHORT_REQUEST = 6
# Steps where typed words are the request to a person itself.
PERSON_STEPS = {PersonDialog.describe.state, UnknownOrder.describe.state}


def question(intent: Intent, order: Order | None) -> str:
    """What Yes would do, as a question naming the order when there is one."""
    if order is not None:
        texts = {
            Intent.cancel: _("Cancel order #{number} ({title})?"),
            Intent.refund: _("Check the refund for order #{number} ({title})?"),
            Intent.defect: _("Report a defective or damaged item in order #{number} ({title})?"),
            Intent.seller: _("Ask the seller about order #{number} ({title})?"),
            Intent.my_orders: _("Show order #{number} ({title})?"),
        }
        if intent in texts:
            return texts[intent].format(number=order.order_id, title=order.title)
    texts = {
        Intent.cancel: _("Cancel one of your orders?"),
        Intent.refund: _("Find out about a refund?"),
        Intent.defect: _("Report a defective or damaged item?"),
        Intent.payment: _("Sort out a payment that failed?"),
        Intent.seller: _("Ask the seller a question?"),
        Intent.where_order: _("Find out where your order is?"),
        Intent.person: _("Pass your question to a support agent?"),
        Intent.my_orders: _("Show your orders?"),
        Intent.my_requests: _("Show your requests to support?"),
        Intent.language: _("Change the language?"),
    }
    return texts[intent]


def answer_button(intent: Intent, order: Order | None) -> CallbackData:
    """The button data that does what `question` asks: the dialog's own entry where
    nothing needs counting, else IntentCb."""
    order_id = order.order_id if order is not None else ""
    if intent in COUNTED:
        return IntentCb(intent=intent, order_id=order_id)
    if intent == Intent.where_order:
        return WhereCb(order_id=order_id) if order_id else IntentCb(intent=intent)
    if order_id and intent in (Intent.seller, Intent.my_orders):
        purpose = Purpose.seller if intent == Intent.seller else Purpose.view
        return OrderCb(purpose=purpose, order_id=order_id)
    actions = {
        Intent.seller: MenuAction.seller,
        Intent.person: MenuAction.person,
        Intent.my_orders: MenuAction.orders,
        Intent.my_requests: MenuAction.cases,
        Intent.language: MenuAction.language,
    }
    return MenuCb(action=actions[intent])


def confirm_keyboard(intent: Intent, order: Order | None) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Yes"), callback_data=answer_button(intent, order))
    builder.button(text=_("No, show the menu"), callback_data=MenuCb(action=MenuAction.home))
    builder.adjust(2)
    return builder.as_markup()


def guesses_keyboard(guesses: Sequence[Intent], order: Order | None) -> InlineKeyboardMarkup:
    """The menu, with the best guesses on top as questions to tap."""
    rows = [
        [
            InlineKeyboardButton(
                text=question(g, order), callback_data=answer_button(g, order).pack()
            )
        ]
        for g in guesses
    ]
    return InlineKeyboardMarkup(inline_keyboard=[*rows, *main_menu().inline_keyboard])


async def own_order(
    svc: Services, account: User, understood: Understanding
) -> tuple[Order | None, list[str]]:
    """The first of the typed numbers that is one of the buyer's orders, and the numbers
    that are not (unknown and other buyers' alike)."""
    missing: list[str] = []
    for number in understood.numbers[:3]:
        order = await svc.orders.find(Buyer.of(account), number)
        if order is not None:
            return order, missing
        missing.append(number)
    return None, missing


def not_found_note(missing: list[str]) -> str:
    return _("I can't find order #{number} among your orders.").format(number=missing[0])


def social_answer(intent: Intent, account: User) -> tuple[str, InlineKeyboardMarkup | None]:
    if intent == Intent.greeting:
        return _("Hello, {name}! What can I help with?").format(
            name=account.first_name
        ), main_menu()
    return _("You're welcome! Write any time you need help."), None


async def offer(
    message: Message,
    svc: Services,
    account: User,
    understood: Understanding,
    intent: Intent,
    prefix: str = "",
) -> None:
    """Ask the buyer to confirm the request understood (where-is-my-order: answer it)."""
    order, missing = await own_order(svc, account, understood)
    note = prefix
    if missing and order is None:
        note = "\n\n".join(part for part in (note, not_found_note(missing)) if part)
    if intent == Intent.where_order:
        if order is not None:
            await where_answer(message, svc, account, order, note)
        else:
            await where_without_number(message, svc, account, note)
        return
    if intent == Intent.language:
        text = _("Choose your language:")
        await message.answer(
            "\n\n".join(p for p in (note, text) if p), reply_markup=language_picker()
        )
        return
    text = question(intent, order)
    await message.answer(
        "\n\n".join(p for p in (note, text) if p), reply_markup=confirm_keyboard(intent, order)
    )


async def understand(
    message: Message, svc: Services, account: User, i18n: I18n, recogniser: Recogniser
) -> None:
    """Free text outside a dialog: confirm what it asks for; leave the rest to the relay
    (a buyer with a case) and the menu fallback."""
    assert message.text is not None
    understood = recogniser.recognise(message.text)
    intent = understood.intent
    open_cases = await svc.cases.open_for_buyer(account.id)
    if open_cases:
        if intent not in OFFERED_WITH_CASE or open_cases[0].type in SAME_CASE[intent]:
            raise SkipHandler
        await relay.to_agents(message, svc, i18n)
        await svc.commit()  # the relayed words are kept even if the offer below fails
        prefix = _(
            "I passed your message to request #{number}. It also sounds like a new request:"
        ).format(number=open_cases[0].id)
        await offer(message, svc, account, understood, intent, prefix)
        return
    last, reopenable = await svc.cases.last_finished(account.id)
    if last is not None and intent == Intent.thanks:
        await my_cases.thanked(message, svc, last)  # thanks for the help, not a new problem
        return
    if reopenable or (last is not None and intent is None):
        raise SkipHandler  # a recent case reopens, as before; unsure text goes to the last one
    if intent in (Intent.greeting, Intent.thanks):
        text, markup = social_answer(intent, account)
        await message.answer(text, reply_markup=markup)
        return
    if intent is not None:
        await offer(message, svc, account, understood, intent)
        return
    guesses = [
        g.intent for g in understood.guesses if g.intent not in (Intent.greeting, Intent.thanks)
    ]
    if not guesses:
        raise SkipHandler
    order, _missing = await own_order(svc, account, understood)
    await message.answer(
        _("I'm not quite sure what you mean. Is it one of these? Or choose a topic below."),
        reply_markup=guesses_keyboard(guesses[:2], order),
    )


async def person_anywhere(message: Message, state: FSMContext, recogniser: Recogniser) -> None:
    """A clear, short "talk to a person" typed inside a dialog: offer the way out, and
    leave the dialog as it is until the buyer taps."""
    assert message.text is not None
    if await state.get_state() in PERSON_STEPS or len(message.text.split()) > SHORT_REQUEST:
        raise SkipHandler
    if recogniser.recognise(message.text).intent != Intent.person:
        raise SkipHandler
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🙋 Talk to a person"), callback_data=MenuCb(action=MenuAction.person))
    await message.answer(
        _(
            "Do you want to talk to a person? Tap below. Otherwise carry on with this step: "
            "nothing you started is lost."
        ),
        reply_markup=builder.as_markup(),
    )


def count_flow(
    svc: Services, account: User, locale: str, intent: Intent, order_id: str | None
) -> None:
    """Record a request typed and confirmed (or answered from the order data), for the
    report's "resolved without an agent"."""
    svc.flows.start(
        buyer_id=account.id,
        intent=intent.value,
        locale=locale,
        order_id=order_id,
        at=svc.clock.now(),
        window=timedelta(hours=svc.settings.dialog_timeout_hours),
    )


async def confirmed(
    query: CallbackQuery,
    callback_data: IntentCb,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
) -> None:
    """Yes: enter the dialog at the step that fits (the order's own step when given)."""
    target = query.message
    if target is None:
        await query.answer()
        return
    intent = callback_data.intent
    order = None
    if callback_data.order_id:
        order = await svc.orders.find(Buyer.of(account), callback_data.order_id)
    if intent == Intent.where_order:
        await query.answer()
        await where_without_number(target, svc, account, "")
        return
    if intent not in COUNTED:
        await query.answer(_("This button no longer works."))
        return
    count_flow(svc, account, i18n.current_locale, intent, order.order_id if order else None)
    await state.clear()
    if intent in ORDER_LISTS and order is None:
        purpose, step, statuses, prompt, no_orders = ORDER_LISTS[intent]
        await state.set_state(step)
        # Answers the button itself (ask_for_order shows the list under it).
        await ask_for_order(
            query,
            svc,
            account,
            purpose,
            statuses=statuses,
            prompt=_(prompt),
            no_orders=_(no_orders),
        )
        return
    await query.answer()
    if intent == Intent.payment:
        await state.set_state(payment.PaymentDialog.kind)
        text, markup = payment.kind_screen()
        await target.answer(text, reply_markup=markup)
    elif order is None:
        return
    elif intent == Intent.cancel:
        await cancel_order.show_order(target, order, state, svc, account, i18n)
    elif intent == Intent.refund:
        await refund.show_order(target, order, state, svc, account, i18n)
    else:
        await defect.begin(target, order, state, svc, account, i18n)


# Where is my order: what the order data says, what happens next, and when to worry.


def where_text(order: Order, svc: Services) -> str:
    tz = ZoneInfo(svc.settings.timezone)
    head = _("Order #{number} ({title}):").format(number=order.order_id, title=order.title)
    placed = formatting.moment(order.placed_at, tz)
    status = order.status
    if status == OrderStatus.unpaid:
        body = _(
            "placed on {placed} and not paid yet, so the seller has not started on it. Pay "
            "for it in the app to get it going; if the payment fails, I can help with that."
        ).format(placed=placed)
    elif status == OrderStatus.paid:
        paid = formatting.moment(order.paid_at or order.placed_at, tz)
        body = _(
            "paid on {paid}, awaiting shipment: the seller is packing it. Next it is handed "
            'to the delivery service, and its status becomes "on its way".'
        ).format(paid=paid)
        if policies.cancel_verdict(order, svc.settings, svc.clock.now()) == CancelVerdict.instant:
            ends = formatting.moment(policies.cancel_window_ends(order, svc.settings), tz)
            body += "\n\n" + _("You can still cancel it at once until {time}.").format(time=ends)
    elif status == OrderStatus.shipped:
        body = _(
            "on its way (placed on {placed}). Parcels from sellers abroad often travel for "
            "several weeks, and the tracking may stay still for days between countries. "
            "If it has not arrived after a long wait, or arrived damaged, tell us."
        ).format(placed=placed)
    elif status in DELIVERED:
        body = _(
            "delivered. If you have not received it, talk to a person right away; if "
            "something is wrong with the item, report it as defective or damaged."
        )
    else:
        verdict = policies.refund_verdict(order, svc.settings, svc.clock.now())
        body = _("cancelled or refunded, so it will not be delivered.")
        if verdict in (RefundVerdict.on_the_way, RefundVerdict.on_balance):
            body += "\n\n" + refund_arrival(order, svc.settings)
        elif verdict in (RefundVerdict.overdue, RefundVerdict.unrecorded):
            body += "\n\n" + _("Ask about the refund below: an agent will check it.")
    return f"{head} {body}"


def where_keyboard(order: Order) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    status = order.status
    if status in (OrderStatus.unpaid, OrderStatus.paid):
        builder.button(
            text=_("❌ Cancel an order"),
            callback_data=IntentCb(intent=Intent.cancel, order_id=order.order_id),
        )
    if status in policies.IN_HANDS:
        builder.button(
            text=_("📦 Defective or damaged item"),
            callback_data=IntentCb(intent=Intent.defect, order_id=order.order_id),
        )
    if status in (OrderStatus.cancelled, OrderStatus.refunded):
        builder.button(
            text=_("💸 Refund"),
            callback_data=IntentCb(intent=Intent.refund, order_id=order.order_id),
        )
    builder.button(text=_("🙋 Talk to a person"), callback_data=MenuCb(action=MenuAction.person))
    builder.adjust(1)
    return builder.as_markup()


async def where_answer(
    target: ChatMessage, svc: Services, account: User, order: Order, note: str
) -> None:
    text = where_text(order, svc)
    await target.answer(
        "\n\n".join(p for p in (note, text) if p), reply_markup=where_keyboard(order)
    )
    count_flow(svc, account, formatting.current_locale(), Intent.where_order, order.order_id)


async def where_without_number(
    target: ChatMessage, svc: Services, account: User, note: str
) -> None:
    """The buyer's one active order answered at once; several listed to choose from."""
    buyer = Buyer.of(account)
    active = await svc.orders.page(buyer, statuses=ACTIVE, offset=0, limit=6)
    if len(active) == 1:
        await where_answer(target, svc, account, active[0], note)
        return
    builder = InlineKeyboardBuilder()
    for order in active[:5]:
        builder.button(
            text=order_button_text(order), callback_data=WhereCb(order_id=order.order_id)
        )
    if active:
        text = _("Which order? These are on their way to you or waiting to be shipped:")
    else:
        text = _(
            "You have no orders on their way or waiting to be shipped. Type the order "
            "number, or look through all your orders."
        )
        builder.button(text=_("🧾 My orders"), callback_data=MenuCb(action=MenuAction.orders))
    builder.button(text=_("🙋 Talk to a person"), callback_data=MenuCb(action=MenuAction.person))
    builder.adjust(1)
    await target.answer("\n\n".join(p for p in (note, text) if p), reply_markup=builder.as_markup())


async def where_picked(
    query: CallbackQuery, callback_data: WhereCb, svc: Services, account: User
) -> None:
    order = await svc.orders.find(Buyer.of(account), callback_data.order_id)
    if order is None or query.message is None:
        await query.answer(_("This button no longer works."))
        return
    await query.answer()
    await where_answer(query.message, svc, account, order, "")


def create_router() -> Router:
    """Free text outside dialogs; sits just before the relay to agents."""
    router = Router(name=__name__)
    router.message.register(understand, StateFilter(None), F.text)
    router.callback_query.register(confirmed, IntentCb.filter(), StateFilter("*"))
    router.callback_query.register(where_picked, WhereCb.filter(), StateFilter("*"))
    return router


def create_anywhere_router() -> Router:
    """A clear "talk to a person" inside any dialog; sits right after the global commands."""
    router = Router(name=f"{__name__}.anywhere")
    router.message.register(person_anywhere, ~StateFilter(None), F.text)
    return router
