"""Answering a button press in the chat it came from."""

from __future__ import annotations

from typing import TypeAlias

from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message

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
