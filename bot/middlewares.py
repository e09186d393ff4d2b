"""Plumbing around every update: the unit of work and the person's account."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram import BaseMiddleware
from aiogram.types import Chat, TelegramObject, User
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.services import Services
from storage import fsm

if TYPE_CHECKING:
    from bot.handoff import Handoff

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UnitOfWorkMiddleware(BaseMiddleware):
    """One database session per update, committed when the handler returns.

    A person writing in private gets their `users` row touched and passed on as
    `account`; their saved language goes on as a plain `saved_locale` string, which
    the locale middleware reads even after a failed handler rolled the session back.
    Dialog-state writes join this session (`storage.fsm.bind`), so they commit with it.
    After the commit, the Telegram work the handler queued starts (`Services.committed`).
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Clock,
        handoff: Handoff | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.handoff = handoff

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.sessions() as session:
            with fsm.bind(session):
                svc = Services.build(
                    session, self.settings, self.clock, handoff=self.handoff, bot=data.get("bot")
                )
                data["svc"] = svc
                user: User | None = data.get("event_from_user")
                chat: Chat | None = data.get("event_chat")
                account = None
                if (
                    user is not None
                    and not user.is_bot
                    and (chat is None or chat.type == "private")
                ):
                    account = await svc.users.touch(
                        user.id, user.first_name, user.language_code, self.clock.now()
                    )
                data["account"] = account
                data["saved_locale"] = account.locale if account is not None else None
                result = await handler(event, data)
                await session.commit()
                svc.committed()
                return result
