"""Flooding: a buyer sending faster than FLOOD_LIMIT messages in FLOOD_WINDOW_SECONDS is
asked once, in their language, to slow down.

Over the limit, messages for an open case still go on to the relay (stored, and
gathered into one post in the topic by the handoff while the group's queue is busy);
anything else is dropped. Only the flooding buyer is slowed: each buyer is counted on
their own, and the counts of people who stopped writing are forgotten.

Messages are counted by when the buyer sent them (Telegram's date), not when the bot
gets to them: a buyer's updates are handled one at a time, so a backlog must not look
like a slow sender.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from aiogram import BaseMiddleware
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Message, TelegramObject
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.services import Services

log = logging.getLogger("supportbot.flood")

PRUNE_AT = 1024
"""Counts of people who stopped writing are dropped once this many are kept."""

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class Pace(Enum):
    fine = "fine"
    warn = "warn"
    """Just went over the limit: tell them once."""
    over = "over"


class FloodGuard:
    """Counts each person's recent messages (at most FLOOD_LIMIT + 1 moments each)."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._latest = 0.0
        self._recent: dict[int, deque[float]] = {}
        self._warned: set[int] = set()

    @classmethod
    def from_settings(cls, settings: Settings) -> FloodGuard:
        return cls(settings.flood_limit, settings.flood_window_seconds)

    @property
    def counted(self) -> int:
        """People counted now (for tests of bounded memory)."""
        return len(self._recent)

    def hit(self, user_id: int, at: float) -> Pace:
        """One more message from this person, sent at `at` (seconds)."""
        now = self._latest = max(self._latest, at)
        if len(self._recent) > PRUNE_AT:
            self._forget_idle(now)
        recent = self._recent.setdefault(user_id, deque(maxlen=self.limit + 1))
        while recent and recent[0] <= now - self.window:
            recent.popleft()
        recent.append(at)
        if len(recent) <= self.limit:
            self._warned.discard(user_id)  # the burst is over: a next one is told again
            return Pace.fine
        if user_id in self._warned:
            return Pace.over
        self._warned.add(user_id)
        return Pace.warn

    def _forget_idle(self, now: float) -> None:
        self._recent = {
            user: recent
            for user, recent in self._recent.items()
            if recent and recent[-1] > now - self.window
        }
        self._warned &= self._recent.keys()


class FloodMiddleware(BaseMiddleware):
    """On private messages, after the locale is known (see `bot.flood`)."""

    def __init__(self, guard: FloodGuard) -> None:
        self.guard = guard

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if (
            not isinstance(event, Message)
            or event.chat.type != "private"
            or event.from_user is None
        ):
            return await handler(event, data)
        pace = self.guard.hit(event.from_user.id, event.date.timestamp())
        if pace == Pace.fine:
            return await handler(event, data)
        if pace == Pace.warn:
            try:
                await event.answer(
                    _(
                        "You are sending messages very fast. Please slow down a little: "
                        "everything about your open request still reaches the support "
                        "team, other messages are skipped for a moment."
                    )
                )
            except TelegramAPIError as error:
                log.warning("could not ask %s to slow down: %s", event.from_user.id, error.message)
        svc: Services = data["svc"]
        if await svc.cases.open_for_buyer(event.from_user.id):
            return await handler(event, data)
        return None
