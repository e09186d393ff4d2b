"""Steps that take the buyer's own words in one message: one limit, one answer.

A dialog declares such a step as `FreeText()` instead of `State()`. This router sits
on the buyers' router right after the commands, so a message too long for any of
those steps gets the same answer before the step's own handler sees it.
"""

from __future__ import annotations

from typing import ClassVar

from aiogram import F, Router
from aiogram.filters import Filter
from aiogram.fsm.state import State
from aiogram.types import Message

from bot.ui.texts import MAX_TEXT, too_long


class FreeText(State):
    """A dialog step that takes one message in the buyer's own words, up to MAX_TEXT long."""

    declared: ClassVar[list[FreeText]] = []

    def __init__(self) -> None:
        super().__init__()
        FreeText.declared.append(self)


class InFreeText(Filter):
    """The buyer's dialog is at a `FreeText` step."""

    async def __call__(self, message: Message, raw_state: str | None = None) -> bool:
        return raw_state is not None and any(s.state == raw_state for s in FreeText.declared)


async def text_too_long(message: Message) -> None:
    await message.answer(too_long())


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(text_too_long, F.text.len() > MAX_TEXT, InFreeText())
    return router
