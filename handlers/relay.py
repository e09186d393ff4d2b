"""A buyer with an open case talks to the agents: outside dialogs, what they send goes
to the case's topic instead of the menu fallback (this router sits just before it).

A message reopens a case resolved less than REOPEN_DAYS ago; after that, it starts a
new case of the same kind. A buyer with several open cases writes to the one they
used last, and is offered the others to move a message to.

On every path the buyer's message is committed before the bot answers, so an answer
Telegram refuses (a 429, say) never rolls back what the buyer sent; a message that
needs no answer is committed once, with the rest of the update.
"""

from __future__ import annotations

from datetime import timedelta

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import StateFilter
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.desk.handoff import Notice
from bot.domain.cases import RELAYED, CaseType, Entry, Sender, case_type_label
from bot.services import Services
from bot.ui.callbacks import BuyerCaseAction, BuyerCaseCb
from bot.ui.texts import case_opened
from storage.models import Case

NEW_CONVERSATION = timedelta(minutes=30)
"""A buyer with several open cases is shown where a message went when they had not
written for this long (not after every message of a conversation)."""


def route_keyboard(others: list[Case], message_id: int) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for case in others[:5]:
        builder.button(
            text=_("Move to #{number} · {type}").format(
                number=case.id, type=case_type_label(case.type)
            ),
            callback_data=BuyerCaseCb(
                action=BuyerCaseAction.route, case_id=case.id, message_id=message_id
            ),
        )
    builder.adjust(1)
    return builder.as_markup()


async def to_agents(message: Message, svc: Services, i18n: I18n) -> None:
    """Pass the message to the buyer's case (reopening or starting one as the rules say);
    SkipHandler when the buyer has never had a case."""
    assert message.from_user is not None
    buyer_id = message.from_user.id
    open_cases = await svc.cases.open_for_buyer(buyer_id)
    if not open_cases:
        last, reopenable = await svc.cases.last_finished(buyer_id)
        if last is None:
            raise SkipHandler  # no case to talk about: the menu fallback answers
        if message.content_type not in RELAYED:
            await message.answer(cannot_relay())
            return
        if not reopenable:
            opened = await svc.cases.open(
                buyer_id=buyer_id,
                type_=CaseType(last.type),
                locale=i18n.current_locale,
                entries=[Entry.from_message(message)],
                order_id=last.order_id,
                reason=message.text or message.caption or "",
            )
            await svc.commit()  # the buyer's words are kept even if the answer fails
            await message.answer(case_opened(opened, svc.cases))
            return
        await svc.cases.add_buyer_message(last, Entry.from_message(message))
        await svc.commit()
        await message.answer(
            _(
                "Your request #{number} is open again: I passed your message to the "
                "support team, and an agent will answer here."
            ).format(number=last.id)
        )
        return
    if message.content_type not in RELAYED:
        await message.answer(cannot_relay())
        return
    case, others = open_cases[0], open_cases[1:]
    quiet = svc.clock.now() - case.updated_at >= NEW_CONVERSATION
    await svc.cases.add_buyer_message(case, Entry.from_message(message))
    if others and quiet and not message.media_group_id:
        await svc.commit()
        await message.answer(
            _(
                "Passed to request #{number} ({type}). If this is about another of your "
                "requests, move it there:"
            ).format(number=case.id, type=case_type_label(case.type)),
            reply_markup=route_keyboard(others, message.message_id),
        )


async def edited(message: Message, svc: Services) -> None:
    assert message.from_user is not None
    entry = Entry.from_message(message)
    for case in await svc.cases.for_buyer(message.from_user.id):
        row = await svc.cases.edit_message(
            case, Sender.buyer, message.message_id, entry.text, entry.entities
        )
        if row is not None:
            _relay_edit(svc, case.id, row.id)
            return


async def move(query: CallbackQuery, callback_data: BuyerCaseCb, svc: Services) -> None:
    target = await svc.cases.get(callback_data.case_id)
    buyer_id = query.from_user.id
    source = None
    if target is not None and target.buyer_id == buyer_id:
        source = await svc.cases.move_message(target, buyer_id, callback_data.message_id)
    if source is None or target is None:
        await query.answer(_("This button no longer works."))
        return
    number = target.id
    await query.answer(_("Moved to request #{number}.").format(number=number))
    svc.after_commit(lambda h, b: h.tell_topic(b, source.id, moved_note(number)))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(to_agents, StateFilter(None))
    router.edited_message.register(edited, StateFilter("*"))
    router.callback_query.register(move, BuyerCaseCb.filter(F.action == BuyerCaseAction.route))
    return router


def _relay_edit(svc: Services, case_id: int, row_id: int) -> None:
    svc.after_commit(lambda h, b: h.edited(b, case_id, row_id, Sender.buyer))


def moved_note(number: int) -> Notice:
    def notice() -> tuple[str, InlineKeyboardMarkup | None]:
        return _(
            "↪️ The buyer says their last message belongs to case #{number}; it was moved there."
        ).format(number=number), None

    return notice


def cannot_relay() -> str:
    return _(
        "I can pass on text, photos, files, voice and video messages, stickers and "
        "locations. Please send your message as one of those."
    )
