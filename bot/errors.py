"""The one home of errors: log the failing update without secrets, tell the person.

A database or Redis outage is not handled here: the update goes back to the inbox
(`bot.inbox`), which tries it again once the server answers; so does `NotYet`.
"""

from __future__ import annotations

import logging

from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.i18n import pick_locale
from storage.db import is_outage
from storage.repositories.inbox import InboxRepository

log = logging.getLogger("supportbot.errors")


class NotYet(Exception):
    """The update refers to something the bot is storing at this very moment (a forum
    topic Telegram has just made, before its id is committed): the inbox hands it to
    the dispatcher again shortly, instead of it being lost."""


def answered_here(event: ErrorEvent) -> bool:
    """Filter for the error handler: outages and `NotYet` propagate to the inbox instead."""
    return not (is_outage(event.exception) or isinstance(event.exception, NotYet))


class ErrorHandler:
    """Logs a failed update, tells the person, and takes the update off the inbox
    (its own changes were rolled back; trying it again would fail the same way)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        i18n: I18n,
        default_locale: str,
    ) -> None:
        self.sessions = sessions
        self.clock = clock
        self.i18n = i18n
        self.default_locale = default_locale

    async def on_error(self, event: ErrorEvent) -> bool:
        update = event.update
        log.error(
            "update %s (%s) failed: %s",
            update.update_id,
            update.event_type,
            type(event.exception).__name__,
            exc_info=event.exception,
        )
        person = event.update.event.from_user if hasattr(event.update.event, "from_user") else None
        # The failure may come before the locale middleware ran: set the language here.
        locale = pick_locale(None, person.language_code if person else None, self.default_locale)
        with self.i18n.context(), self.i18n.use_locale(locale):
            text = _("Sorry, something went wrong on our side. Please try again in a minute.")
        try:
            if update.message is not None:
                await update.message.answer(text)
            elif update.callback_query is not None:
                await update.callback_query.answer(text, show_alert=True)
        except Exception:  # the person can't be told (network down, bot blocked): the log has it
            log.warning("could not tell the person about the failed update %s", update.update_id)
        async with self.sessions() as session:
            await InboxRepository(session).done(update.update_id, self.clock.now())
            await session.commit()
        return True
