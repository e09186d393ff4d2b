"""Talk to a person: the buyer describes the question and it becomes a case.

Pressed inside a dialog about an order, the case carries what the dialog knew: the
order, the dialog's own case type (a late cancellation keeps its 24-hour promise), and
what the buyer already sent there (a defect's description and photos).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.domain import policies
from bot.domain.cases import CaseType, Entry
from bot.domain.orders import Buyer
from bot.i18n import N_
from bot.services import Services
from bot.ui.callbacks import MenuAction, MenuCb
from bot.ui.keyboards import back_to_menu
from bot.ui.replies import open_case
from handlers.cancel_order import CancelDialog
from handlers.defect import DefectDialog
from handlers.free_text import FreeText
from handlers.payment import PaymentDialog
from handlers.refund import RefundDialog
from handlers.seller import SellerDialog
from storage.models import User


class PersonDialog(StatesGroup):
    describe = FreeText()


# The dialogs a buyer can call a person from: (the dialog, its case type, what it is
# about for the agent's note).
DIALOGS: tuple[tuple[type[StatesGroup], CaseType, str], ...] = (
    (CancelDialog, CaseType.cancel_review, N_("cancelling an order")),
    (RefundDialog, CaseType.general, N_("a refund")),
    (DefectDialog, CaseType.defect, N_("a defective or damaged item")),
    (PaymentDialog, CaseType.payment, N_("a failed payment")),
    (SellerDialog, CaseType.seller_question, N_("a question for the seller")),
)


@dataclass
class Handover:
    """What a dialog passes on when the buyer asks for a person in the middle of it."""

    type: CaseType = CaseType.general
    topic: str | None = None
    """The dialog's subject (an N_ text), for the agent's note."""
    order_id: str | None = None
    entries: list[dict[str, Any]] = field(default_factory=list)
    """What the buyer sent in the dialog, as transcript entries."""


async def handover(state: FSMContext, svc: Services, account: User) -> Handover:
    """What the dialog the buyer is in knows (nothing outside a dialog)."""
    current = await state.get_state()
    data = await state.get_data()
    if current == PersonDialog.describe.state:
        return Handover(**data.get("handover", {}))  # pressed again: nothing is lost
    found = next(((t, topic) for group, t, topic in DIALOGS if current in group), None)
    if current is None or found is None:
        return Handover()
    dialog_type, topic = found
    order = None
    if data.get("order_id"):
        order = await svc.orders.find(Buyer.of(account), str(data["order_id"]))
    type_ = policies.handover_type(dialog_type, order, svc.settings, svc.clock.now())
    entries = []
    if current in DefectDialog and "description" in data:
        entries = [data["description"], *data.get("photos", [])]
    return Handover(
        type=type_,
        topic=topic,
        order_id=order.order_id if order is not None else None,
        entries=entries,
    )


async def enter(query: CallbackQuery, state: FSMContext, svc: Services, account: User) -> None:
    given = await handover(state, svc, account)
    await state.clear()
    await state.set_state(PersonDialog.describe)
    await state.update_data(handover=asdict(given))
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if given.order_id is not None and given.entries:
        text = _(
            "Tell me in one message what you need, and I will pass it to a support agent "
            "together with order #{number} and what you have already told me."
        ).format(number=given.order_id)
    elif given.order_id is not None:
        text = _(
            "Tell me in one message what you need, and I will pass it to a support agent "
            "together with order #{number}."
        ).format(number=given.order_id)
    else:
        text = _(
            "Tell me in one message what happened, and I will pass it to a support "
            "agent. Please include the order number if your question is about an order."
        )
    await query.message.answer(text, reply_markup=back_to_menu())


async def describe(
    message: Message, state: FSMContext, svc: Services, account: User, i18n: I18n
) -> None:
    given = Handover(**(await state.get_data()).get("handover", {}))
    entries = [Entry(**entry) for entry in given.entries]
    if given.topic is not None:
        with i18n.use_locale(svc.settings.agent_locale):
            note = _("The buyer asked for a person in the middle of the dialog about {topic}.")
            entries.insert(0, Entry(sender="bot", text=note.format(topic=_(given.topic))))
    await open_case(
        message,
        state,
        svc,
        account,
        i18n,
        type_=CaseType(given.type),
        order_id=given.order_id,
        reason=message.text or "",
        entries=[*entries, Entry.from_message(message)],
    )


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
