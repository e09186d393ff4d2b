"""The one home of errors: log the failing update without secrets, tell the person."""

from __future__ import annotations

import logging

from aiogram.types import ErrorEvent
from aiogram.utils.i18n import gettext as _

log = logging.getLogger("supportbot.errors")


async def on_error(event: ErrorEvent) -> bool:
    update = event.update
    log.error(
        "update %s (%s) failed: %s",
        update.update_id,
        update.event_type,
        type(event.exception).__name__,
        exc_info=event.exception,
    )
    text = _("Sorry, something went wrong on our side. Please try again in a minute.")
    try:
        if update.message is not None:
            await update.message.answer(text)
        elif update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
    except Exception:  # the person can't be told (network down, bot blocked): the log has it
        log.warning("could not tell the person about the failed update %s", update.update_id)
    return True
