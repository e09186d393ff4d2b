"""Answering the buyer: under a pressed button, or with a case that was opened."""

from __future__ import annotations

from typing import TypeAlias

from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n

from bot.domain.cases import CaseType, Entry, Opened
from bot.services import Services
from bot.ui.keyboards import main_menu
from bot.ui.texts import case_opened
from storage.models import User

ChatMessage: TypeAlias = Message | InaccessibleMessage
"""A message to answer under: a buyer's message, or the one a pressed button sits on."""


async def reply(
    query: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None
) -> None:
    """Stop the button's spinner and answer in the chat under the pressed button.

    Works for messages Telegram no longer shows to the bot (older than 48 hours),
    since those still name their chat.
    """
    await query.answer()
    if query.message is not None:
        await query.message.answer(text, reply_markup=reply_markup)


async def open_case(
    target: ChatMessage,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
    *,
    type_: CaseType,
    entries: list[Entry],
    reason: str = "",
    order_id: str | None = None,
    intro: str | None = None,
) -> Opened:
    """Open the buyer's case (or add to the open one), end the dialog, say where it stands.

    `intro` is what the dialog itself wants to say first.
    """
    opened = await svc.cases.open(
        buyer_id=account.id,
        type_=type_,
        locale=i18n.current_locale,
        order_id=order_id,
        reason=reason,
        entries=entries,
    )
    await state.clear()
    await svc.commit()
    await target.answer(case_opened(opened, svc.cases, intro), reply_markup=main_menu())
    return opened


async def open_case_from_text(
    message: Message,
    state: FSMContext,
    svc: Services,
    account: User,
    i18n: I18n,
    *,
    type_: CaseType,
    order_id: str | None = None,
    intro: str | None = None,
    note: str | None = None,
) -> Opened:
    """`open_case` with what the buyer wrote at a free-text step as the case's reason and
    its entry; the bot's `note` for the agent, if any, comes before it."""
    entries = [] if note is None else [Entry(sender="bot", text=note)]
    return await open_case(
        message,
        state,
        svc,
        account,
        i18n,
        type_=type_,
        entries=[*entries, Entry.from_message(message)],
        reason=message.text or "",
        order_id=order_id,
        intro=intro,
    )
