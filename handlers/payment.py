"""Payment failure: new order or paying again for a declined one, then the five usual
causes one by one, each with what to do; "none of these" gives the try-again-later
advice; "it still fails" takes a description and opens a payment case.

The dialog never asks for card data (and the card guard masks it if typed).
"""

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
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.domain.cases import CaseType
from bot.i18n import N_
from bot.services import Services
from bot.ui.callbacks import MenuAction, MenuCb
from bot.ui.keyboards import main_menu, per_locale, person_button
from bot.ui.replies import open_case_from_text
from handlers.free_text import FreeText
from storage.models import User

# (what it is, what to do), in the order a buyer should check them.
CAUSES = (
    (
        N_("The card is blocked."),
        N_(
            "Banks block a card after suspicious activity, a report of a lost card, or "
            "several wrong PIN entries.\n\nWhat to do: check the card's status in your "
            "bank's app, or call the number on the back of the card. Meanwhile you can pay "
            "with another card or an e-wallet."
        ),
    ),
    (
        N_("The bank or the card does not allow this payment."),
        N_(
            "Some cards can't pay online or abroad, and many have a limit per payment or "
            "per day.\n\nWhat to do: in your bank's app, turn on online and foreign payments "
            "and check the limits, or ask the bank to do it. Another card or an e-wallet "
            "also works."
        ),
    ),
    (
        N_("The security code (CVV/CVC) was wrong."),
        N_(
            "It is the three digits on the back of the card.\n\nWhat to do: enter the card "
            "details again, carefully, on the payment page. Type the code only there: never "
            "send it in a chat, not even to us."
        ),
    ),
    (
        N_("There is not enough money on the card."),
        N_(
            "The whole amount must be available, plus any fee your bank takes for a payment "
            "in another currency.\n\nWhat to do: top up the card, or pay with another card "
            "or an e-wallet."
        ),
    ),
    (
        N_("The card has expired."),
        N_(
            "The expiry date (month/year) is on the front of the card.\n\nWhat to do: pay "
            "with a valid card. If your bank sent you a new one, add its details again."
        ),
    ),
)


class PaymentDialog(StatesGroup):
    kind = State()
    cause = State()
    advice = State()
    describe = FreeText()


class PayAction(StrEnum):
    new = "n"
    repay = "r"
    solved = "ok"
    next = "nx"
    back = "b"
    later = "l"
    failing = "f"


class PayCb(CallbackData, prefix="pay"):
    action: PayAction


@per_locale
def _keyboard(*buttons: tuple[str, PayAction]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for label, action in buttons:
        builder.button(text=label, callback_data=PayCb(action=action))
    builder.adjust(1)
    builder.row(
        InlineKeyboardButton(
            text=_("⬅️ Main menu"), callback_data=MenuCb(action=MenuAction.home).pack()
        ),
        person_button(),
    )
    return builder.as_markup()


def kind_screen() -> tuple[str, InlineKeyboardMarkup]:
    return _("Sorry the payment didn't go through. Which payment was it?"), _keyboard(
        (_("🆕 Paying for a new order"), PayAction.new),
        (_("🔁 Paying again for a declined order"), PayAction.repay),
    )


def cause_screen(index: int) -> tuple[str, InlineKeyboardMarkup]:
    what, todo = CAUSES[index]
    text = _("Possible cause {number} of {total}: {cause}").format(
        number=index + 1, total=len(CAUSES), cause=_(what)
    )
    last = index == len(CAUSES) - 1
    return text + "\n\n" + _(todo), _keyboard(
        (_("✅ That's it, thank you"), PayAction.solved),
        (_("🤷 None of these") if last else _("➡️ Not this, next cause"), PayAction.next),
        (_("⬅️ Back"), PayAction.back),
    )


def advice_screen() -> tuple[str, InlineKeyboardMarkup]:
    text = _(
        "Then it is most likely a short hiccup at the bank or in the payment system. "
        "Wait 15 to 30 minutes and try again; it usually goes through. It also helps to "
        "check the internet connection and to pay in the app instead of the browser "
        "(or the other way round).\n\nIf it keeps failing, I'll pass it to a person."
    )
    return text, _keyboard(
        (_("😟 It still fails"), PayAction.failing),
        (_("👍 OK, I'll try later"), PayAction.later),
        (_("⬅️ Back"), PayAction.back),
    )


def describe_screen() -> tuple[str, InlineKeyboardMarkup]:
    text = _(
        "Tell me in one message what happens: what you are paying for (the order number, "
        "if there is one), how you pay (card, e-wallet or bonuses), and the exact error "
        "message you see.\n\nDon't send the card number or its security code: we never "
        "need them."
    )
    return text, _keyboard((_("⬅️ Back"), PayAction.back))


async def _show(target: Message, screen: tuple[str, InlineKeyboardMarkup]) -> None:
    text, keyboard = screen
    await target.answer(text, reply_markup=keyboard)


async def _to_cause(target: Message, state: FSMContext, index: int) -> None:
    await state.set_state(PaymentDialog.cause)
    await state.update_data(cause=index)
    await _show(target, cause_screen(index))


async def enter(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await state.set_state(PaymentDialog.kind)
    await query.answer()
    if isinstance(query.message, Message):
        await _show(query.message, kind_screen())


async def chosen_kind(query: CallbackQuery, callback_data: PayCb, state: FSMContext) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if callback_data.action is PayAction.repay:
        await query.message.answer(
            _(
                "A declined payment can't be repeated as it was. Add the order to the cart "
                "again and pay for it from the cart, as a new payment.\n\nIf that fails "
                "too, let's find the cause together. The usual ones are below, one by one."
            )
        )
    await _to_cause(query.message, state, 0)


async def next_cause(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    index = int((await state.get_data()).get("cause", 0)) + 1
    if not isinstance(query.message, Message):
        return
    if index < len(CAUSES):
        await _to_cause(query.message, state, index)
    else:
        await state.set_state(PaymentDialog.advice)
        await _show(query.message, advice_screen())


async def previous_cause(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    index = int((await state.get_data()).get("cause", 0)) - 1
    if not isinstance(query.message, Message):
        return
    if index >= 0:
        await _to_cause(query.message, state, index)
    else:
        await state.set_state(PaymentDialog.kind)
        await _show(query.message, kind_screen())


async def solved(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            _(
                "Glad we found it. Once that's sorted, try paying again. If it still "
                "fails, come back: “Payment problem” in the menu."
            ),
            reply_markup=main_menu(),
        )


async def back_to_last_cause(query: CallbackQuery, state: FSMContext) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await _to_cause(query.message, state, len(CAUSES) - 1)


async def try_later(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            _("Good luck with the payment! I'm here if you need anything else."),
            reply_markup=main_menu(),
        )


async def still_failing(query: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(PaymentDialog.describe)
    await query.answer()
    if isinstance(query.message, Message):
        await _show(query.message, describe_screen())


async def back_to_advice(query: CallbackQuery, state: FSMContext) -> None:
    await state.set_state(PaymentDialog.advice)
    await query.answer()
    if isinstance(query.message, Message):
        await _show(query.message, advice_screen())


async def described(
    message: Message, state: FSMContext, svc: Services, account: User, i18n: I18n
) -> None:
    await open_case_from_text(message, state, svc, account, i18n, type_=CaseType.payment)


async def describe_in_words(message: Message) -> None:
    await message.answer(_("Please describe what happens in words, in one message."))


async def use_buttons(message: Message, state: FSMContext) -> None:
    current = await state.get_state()
    if current == PaymentDialog.kind.state:
        screen = kind_screen()
    elif current == PaymentDialog.cause.state:
        screen = cause_screen(int((await state.get_data()).get("cause", 0)))
    else:
        screen = advice_screen()
    await message.answer(_("Please answer with the buttons; here is where we are:"))
    await _show(message, screen)


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(
        enter, MenuCb.filter(F.action == MenuAction.payment), StateFilter("*")
    )
    router.callback_query.register(
        chosen_kind,
        PaymentDialog.kind,
        PayCb.filter(F.action.in_({PayAction.new, PayAction.repay})),
    )
    # (handler, at step, on button): the buttons of each step, one handler each.
    for handler, step, action in (
        (next_cause, PaymentDialog.cause, PayAction.next),
        (previous_cause, PaymentDialog.cause, PayAction.back),
        (solved, PaymentDialog.cause, PayAction.solved),
        (back_to_last_cause, PaymentDialog.advice, PayAction.back),
        (try_later, PaymentDialog.advice, PayAction.later),
        (still_failing, PaymentDialog.advice, PayAction.failing),
        (back_to_advice, PaymentDialog.describe, PayAction.back),
    ):
        router.callback_query.register(handler, step, PayCb.filter(F.action == action))
    router.message.register(described, PaymentDialog.describe, F.text)
    router.message.register(describe_in_words, PaymentDialog.describe)
    router.message.register(
        use_buttons, StateFilter(PaymentDialog.kind, PaymentDialog.cause, PaymentDialog.advice)
    )
    return router
