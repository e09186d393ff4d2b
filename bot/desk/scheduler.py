"""Periodic work: reminders before first-response deadlines, closing cases the buyer
left unanswered, and retrying topics and messages Telegram did not take earlier.

`run_due()` does one round against the injected clock; `supportbot run` calls it every
SCHEDULER_INTERVAL_SECONDS in a background task, tests and the shell call it after
moving the clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.desk.handoff import Handoff, Notice
from bot.domain import formatting
from bot.domain.cases import CaseService, case_type_label
from bot.domain.erasure import ErasureService
from bot.i18n import ngettext
from storage.db import is_outage
from storage.locks import Locks
from storage.models import Case
from storage.repositories.cases import CaseRepository

log = logging.getLogger("supportbot.scheduler")


def topic_link(chat_id: int, topic_id: int) -> str:
    """t.me link to a topic of a supergroup (its id without the -100 prefix)."""
    return f"https://t.me/c/{str(chat_id).removeprefix('-100')}/{topic_id}"


class Scheduler:
    def __init__(self, handoff: Handoff, interval: float, locks: Locks) -> None:
        self.handoff = handoff
        self.interval = interval
        self.locks = locks
        self._task: asyncio.Task[None] | None = None

    async def run_due(self, bot: Bot) -> None:
        """One round of everything that is due now; with several processes, one of
        them does it and the others skip it."""
        async with self.locks.hold("scheduler", wait=False) as mine:
            if mine:
                await self._round(bot)

    async def _round(self, bot: Bot) -> None:
        handoff = self.handoff
        async with handoff.sessions() as session:
            cases = CaseService(CaseRepository(session), handoff.clock, handoff.settings)
            retry = set(await cases.unfinished_topics())
            retry |= set(await cases.with_pending())
            for case_id in sorted(retry):
                handoff.sync(bot, case_id)
            for case in await cases.due_for_reminder():
                if case.agent_chat_id is None or case.topic_id is None:
                    continue  # reminded once its topic exists
                case.reminded_at = handoff.clock.now()
                await session.commit()
                handoff.tell_group(bot, case.agent_chat_id, self._reminder(case))
            for case in await cases.waited_too_long():
                cases.auto_close(case)
                await session.commit()
                handoff.tell_buyer(bot, case.id, _closed_for_buyer(case.id))
                handoff.tell_topic(
                    bot, case.id, _closed_for_agents(handoff.settings.reply_wait_days)
                )
                handoff.sync(bot, case.id)
            erasure = ErasureService(session, handoff.clock, handoff.settings, cases)
            expired = await erasure.expire()
            if expired.cases or expired.accounts:
                await session.commit()
                log.info(
                    "retention: erased %s cases and %s accounts",
                    len(expired.cases),
                    expired.accounts,
                )
            # Erasures made here and by `supportbot forget` (which has no bot) are told
            # in their topics.
            for case_id in await erasure.untold():
                handoff.erased(bot, case_id)

    def _reminder(self, case: Case) -> Notice:
        tz = ZoneInfo(self.handoff.settings.timezone)
        now = self.handoff.clock.now()

        def notice() -> tuple[str, InlineKeyboardMarkup | None]:
            assert case.response_due_at is not None
            assert case.agent_chat_id is not None
            assert case.topic_id is not None
            values = {
                "number": case.id,
                "type": case_type_label(case.type),
                "deadline": formatting.moment(case.response_due_at, tz),
                "link": topic_link(case.agent_chat_id, case.topic_id),
            }
            if case.response_due_at <= now:
                text = _(
                    "⏰ Case #{number} ({type}) is overdue: the buyer was promised a first "
                    "answer by {deadline}.\n{link}"
                )
            else:
                text = _(
                    "⏰ Case #{number} ({type}) still has no answer; the first answer is due "
                    "by {deadline}.\n{link}"
                )
            return text.format(**values), None

        return notice

    async def _loop(self, bot: Bot) -> None:
        while True:
            try:
                await self.run_due(bot)
            except Exception as error:  # a failed round must not stop the next one
                if not is_outage(error):
                    log.exception("scheduled round failed")
                # An outage is logged once by the inbox; the next round catches up.
            await asyncio.sleep(self.interval)

    async def start(self, bot: Bot) -> None:
        """Start the background rounds (a dispatcher start-up hook in `supportbot run`)."""
        self._task = asyncio.get_running_loop().create_task(self._loop(bot))

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _closed_for_buyer(number: int) -> Notice:
    def notice() -> tuple[str, InlineKeyboardMarkup | None]:
        return _(
            "We haven't heard back from you, so request #{number} is now closed. "
            "If you still need help, just write here or open a new request from the menu."
        ).format(number=number), None

    return notice


def _closed_for_agents(days: int) -> Notice:
    def notice() -> tuple[str, InlineKeyboardMarkup | None]:
        return ngettext(
            "🔒 Closed automatically: the buyer did not answer for {days} day. "
            "They have been told.",
            "🔒 Closed automatically: the buyer did not answer for {days} days. "
            "They have been told.",
            days,
        ).format(days=days), None

    return notice
