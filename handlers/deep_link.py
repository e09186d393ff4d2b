"""`/start <token>`: a buyer opened their personal link and gets linked to their
marketplace account. Comes before `handlers.commands`, whose plain /start would
take any payload."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import CommandObject, CommandStart, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.domain.linking import LinkError
from bot.services import Services
from bot.ui.keyboards import main_menu
from storage.models import User

log = logging.getLogger("supportbot.links")


def create_router() -> Router:
    router = Router(name=__name__)

    @router.message(CommandStart(deep_link=True), StateFilter("*"))
    async def open_link(
        message: Message,
        command: CommandObject,
        state: FSMContext,
        svc: Services,
        account: User | None,
    ) -> None:
        await state.clear()
        if svc.links is None:
            log.warning("a buyer opened a deep link, but LINK_SECRET is not set")
            found: str | LinkError = LinkError.invalid
        else:
            found = svc.links.read(command.args or "", svc.clock.now())
        if found is LinkError.expired:
            text = _(
                "This link has expired, so I couldn't connect your marketplace account. "
                "Please open a fresh link from your account page."
            )
        elif isinstance(found, LinkError) or account is None:
            text = _(
                "I couldn't use this link: it isn't one of ours, or it got cut. Your account "
                "was not connected. Please open the link from your account page again."
            )
        else:
            account.buyer_id = found
            # No ids: logs name cases, never people (README "Security and privacy").
            log.info("a deep link connected an account to a marketplace buyer")
            text = _(
                "Done: your marketplace account is connected. I can see your orders now: "
                "choose “My orders” below."
            )
        await message.answer(text, reply_markup=main_menu())

    return router
