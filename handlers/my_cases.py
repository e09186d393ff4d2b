"""A buyer's own requests: "My requests" with their state, withdrawing one ("solved,
thanks"), and rating the help once a case is resolved (1 to 5, then an optional comment)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.domain import formatting
from bot.domain.cases import case_status_label, case_type_label
from bot.services import Services
from bot.ui.callbacks import BuyerCaseAction, BuyerCaseCb, MenuAction, MenuCb, RateCb
from bot.ui.keyboards import main_menu
from handlers.free_text import FreeText
from storage.models import Case
from storage.repositories.cases import OPEN_STATUSES

SHOWN = 10


class RatingDialog(StatesGroup):
    comment = FreeText()


async def my_requests(query: CallbackQuery, state: FSMContext, svc: Services) -> None:
    await state.clear()
    await query.answer()
    cases = await svc.cases.for_buyer(query.from_user.id)
    if not isinstance(query.message, Message):
        return
    if not cases:
        await query.message.answer(
            _("You have no requests yet. Choose a topic below to start one:"),
            reply_markup=main_menu(),
        )
        return
    tz = ZoneInfo(svc.settings.timezone)
    lines = [_("Your requests:")]
    builder = InlineKeyboardBuilder()
    for case in cases[:SHOWN]:
        lines.append(
            _("#{number} · {type} · {status} · updated {time}").format(
                number=case.id,
                type=case_type_label(case.type),
                status=case_status_label(case.status),
                time=formatting.moment(case.updated_at, tz),
            )
        )
        if case.status in OPEN_STATUSES:
            builder.button(
                text=_("✅ #{number} is solved, thanks").format(number=case.id),
                callback_data=BuyerCaseCb(action=BuyerCaseAction.withdraw, case_id=case.id),
            )
    builder.button(text=_("⬅️ Main menu"), callback_data=MenuCb(action=MenuAction.home))
    builder.adjust(1)
    await query.message.answer("\n".join(lines), reply_markup=builder.as_markup())


async def withdraw(query: CallbackQuery, callback_data: BuyerCaseCb, svc: Services) -> None:
    case = await svc.cases.get(callback_data.case_id)
    if case is None or case.buyer_id != query.from_user.id or not svc.cases.withdraw(case):
        await query.answer(_("This button no longer works."))
        return
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            _("Glad it's sorted! Request #{number} is closed as solved.").format(number=case.id),
            reply_markup=main_menu(),
        )
    svc.after_commit(
        lambda h, b: h.tell_topic(
            b,
            case.id,
            lambda: (_("✅ The buyer says the case is solved and withdrew it."), None),
        )
    )


LOW_RATING = 2
"""A rating at or below this gets an apology and the offer to reopen the request."""


def rated_keyboard(case_id: int, score: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    if score <= LOW_RATING:
        builder.button(
            text=_("🔄 Reopen the request"),
            callback_data=BuyerCaseCb(action=BuyerCaseAction.reopen, case_id=case_id),
        )
    builder.button(text=_("⬅️ Main menu"), callback_data=MenuCb(action=MenuAction.home))
    builder.adjust(1)
    return builder.as_markup()


async def rate(
    query: CallbackQuery, callback_data: RateCb, state: FSMContext, svc: Services
) -> None:
    case = await svc.cases.get(callback_data.case_id)
    score = callback_data.score
    if case is None or case.buyer_id != query.from_user.id or not svc.cases.rate(case, score):
        await query.answer(_("This button no longer works."))
        return
    await query.answer()
    await state.set_state(RatingDialog.comment)
    await state.update_data(case_id=case.id)
    if score <= LOW_RATING:
        text = _(
            "I'm sorry we didn't help you as we should have with request #{number}. If the "
            "problem is still there, reopen the request and an agent will look at it again. "
            "You can also tell me in one message what went wrong."
        )
    else:
        text = _(
            "Thank you for rating request #{number}: {score} of 5. If you'd like to add a "
            "comment, write it in one message."
        )
    if isinstance(query.message, Message):
        await query.message.edit_text(
            text.format(number=case.id, score=score),
            reply_markup=rated_keyboard(case.id, score),
        )
    stars = "★" * score + "☆" * (5 - score)
    svc.after_commit(
        lambda h, b: h.tell_topic(
            b,
            case.id,
            lambda: (
                _("⭐ The buyer rated the help {stars} ({score}/5).").format(
                    stars=stars, score=score
                ),
                None,
            ),
        )
    )


async def reopen(
    query: CallbackQuery, callback_data: BuyerCaseCb, state: FSMContext, svc: Services
) -> None:
    """The buyer reopens a request they rated low: it goes back to the agents."""
    case = await svc.cases.get(callback_data.case_id)
    buyer = query.from_user
    if (
        case is None
        or case.buyer_id != buyer.id
        or not svc.cases.reopen(case, buyer.id, buyer.first_name)
    ):
        await query.answer(_("This button no longer works."))
        return
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(
            _(
                "Request #{number} is open again. Tell me here what is still wrong, and I "
                "will pass it to the agent."
            ).format(number=case.id)
        )
    svc.after_commit(
        lambda h, b: h.tell_topic(
            b,
            case.id,
            lambda: (_("🔄 The buyer rated the help low and reopened the case."), None),
        )
    )


async def thanked(message: Message, svc: Services, case: Case) -> None:
    """Thanks after a finished request: acknowledged, and kept for the agents as the
    buyer's comment (unless they already left one), never a new problem."""
    assert message.text is not None
    await message.answer(
        _("You're welcome! I've passed your thanks on to the support team."),
        reply_markup=main_menu(),
    )
    if case.rating_comment:
        return
    svc.cases.comment(case, message.text)
    text = message.text
    svc.after_commit(
        lambda h, b: h.tell_topic(
            b, case.id, lambda: (_("💬 The buyer's comment: {text}").format(text=text), None)
        )
    )


async def comment(message: Message, state: FSMContext, svc: Services) -> None:
    assert message.text is not None
    case_id = (await state.get_data()).get("case_id")
    case = await svc.cases.get(int(case_id)) if case_id is not None else None
    await state.clear()
    if case is None or message.from_user is None or case.buyer_id != message.from_user.id:
        await message.answer(_("What can I help with?"), reply_markup=main_menu())
        return
    svc.cases.comment(case, message.text)
    await message.answer(_("Thank you, your comment is saved."), reply_markup=main_menu())
    text = message.text
    svc.after_commit(
        lambda h, b: h.tell_topic(
            b, case.id, lambda: (_("💬 The buyer's comment: {text}").format(text=text), None)
        )
    )


async def comment_not_text(message: Message) -> None:
    await message.answer(_("Please write your comment as text, or send /cancel to skip it."))


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(
        my_requests, MenuCb.filter(F.action == MenuAction.cases), StateFilter("*")
    )
    router.callback_query.register(
        withdraw, BuyerCaseCb.filter(F.action == BuyerCaseAction.withdraw)
    )
    router.callback_query.register(rate, RateCb.filter(), StateFilter("*"))
    router.callback_query.register(
        reopen, BuyerCaseCb.filter(F.action == BuyerCaseAction.reopen), StateFilter("*")
    )
    router.message.register(comment, RatingDialog.comment, F.text)
    router.message.register(comment_not_text, RatingDialog.comment)
    return router
