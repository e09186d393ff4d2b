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

from bot.domain.linking import LinkOutcome
from bot.services import Services
from bot.ui.keyboards import main_menu
from storage.models import User

log = logging.getLogger("supportbot.links")


async def open_link(
    message: Message,
    command: CommandObject,
    state: FSMContext,
    svc: Services,
    account: User | None,
) -> None:
    await state.clear()
    if account is None:  # a deep link only means something in a private chat
        return
    if svc.links.signer is None:
        log.warning("a buyer opened a deep link, but LINK_SECRET is not set")
    outcome = await svc.links.open(command.args or "", account)
    if outcome is LinkOutcome.linked:
        # No ids: logs name cases, never people (README "Security and privacy").
        log.info("a deep link connected an account to a marketplace buyer")
    await message.answer(
        _link_text(outcome, linked=account.buyer_id is not None), reply_markup=main_menu()
    )


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(open_link, CommandStart(deep_link=True), StateFilter("*"))
    return router


def _link_text(outcome: LinkOutcome, *, linked: bool) -> str:
    """What the person reads. A refused link never tells an account that stays
    connected that it "was not connected"."""
    if outcome is LinkOutcome.linked:
        return _(
            "Done: your marketplace account is connected. I can see your orders now: "
            "choose “My orders” below."
        )
    if outcome is LinkOutcome.already_linked:
        return _(
            "Your marketplace account is already connected through this link. "
            "Choose “My orders” below to see your orders."
        )
    if linked:
        if outcome is LinkOutcome.used:
            return _(
                "This link was already used by another Telegram account. "
                "Your marketplace account stays connected as before."
            )
        if outcome is LinkOutcome.expired:
            return _("This link has expired. Your marketplace account stays connected as before.")
        return _(
            "I couldn't use this link: it isn't one of ours, or it got cut. "
            "Your marketplace account stays connected as before."
        )
    if outcome is LinkOutcome.used:
        return _(
            "This link was already used by another Telegram account, so I couldn't connect "
            "yours. Each link works only once: please open a fresh link from your account page."
        )
    if outcome is LinkOutcome.expired:
        return _(
            "This link has expired, so I couldn't connect your marketplace account. "
            "Please open a fresh link from your account page."
        )
    return _(
        "I couldn't use this link: it isn't one of ours, or it got cut. Your account "
        "was not connected. Please open the link from your account page again."
    )
