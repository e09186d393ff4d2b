"""Plumbing around every update: card data masked at the door, the unit of work and
the person's account, and dialogs left too long started over."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.types import Chat, Message, TelegramObject, Update, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.desk.handoff import Handoff
from bot.domain.card_guard import scan
from bot.i18n import pick_locale
from bot.services import Services
from storage import fsm
from storage.repositories.inbox import InboxRepository
from storage.repositories.users import UserRepository

log = logging.getLogger("supportbot")


Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class UnitOfWorkMiddleware(BaseMiddleware):
    """One database session per update, committed when the handler returns.

    A person writing in private gets their `users` row touched and passed on as
    `account`; their saved language goes on as a plain `saved_locale` string, which
    the locale middleware reads even after a failed handler rolled the session back.
    Dialog-state reads and writes join this session (`storage.fsm.bind`; the middleware
    sits before aiogram's FSM middleware), so they commit with it. The update's inbox row
    is marked done in the same commit (`bot.inbox`). After the commit, the Telegram work
    the handler queued starts (`Services.committed`).
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
                if isinstance(event, Update):
                    # Handled: done in the same transaction as what handling it changed.
                    await InboxRepository(session).done(event.update_id, self.clock.now())
                await session.commit()
                svc.committed()
                return result


class CardGuardMiddleware(BaseMiddleware):
    """Card numbers and security codes never get past the door in clear.

    Outer and first on every update: a message or edit whose text or caption holds
    card data goes on with the digits masked (the last four of a card stay), so
    handlers, transcripts and relays only ever see the masked copy. The person's
    original message is deleted from the chat and they are warned, in their
    language, never to send card data; then their dialog carries on as usual.
    """

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], i18n: I18n, default_locale: str
    ) -> None:
        self.sessions = sessions
        self.i18n = i18n
        self.default_locale = default_locale

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        for kind in ("message", "edited_message"):
            message: Message | None = getattr(event, kind)
            if message is None:
                continue
            masked = self._masked(message)
            if masked is not None:
                event = event.model_copy(update={kind: masked}).as_(data["bot"])
                await self._warn(data["bot"], message)
        return await handler(event, data)

    @staticmethod
    def _masked(message: Message) -> Message | None:
        changes: dict[str, str] = {}
        for field in ("text", "caption"):
            value = getattr(message, field)
            if value:
                found = scan(value)
                if found.found:
                    changes[field] = found.text
        return message.model_copy(update=changes) if changes else None

    async def _warn(self, bot: Bot, message: Message) -> None:
        chat_id, thread_id = message.chat.id, message.message_thread_id
        try:
            await bot.delete_message(chat_id, message.message_id)
        except TelegramAPIError as error:
            # Too old to delete, or no right to: the masked copy is still all we keep.
            log.warning("could not delete a message with card data: %s", error.message)
        with self.i18n.context(), self.i18n.use_locale(await self._locale(message.from_user)):
            text = _(
                "⚠️ Please never send your card number or its security code (CVV/CVC), not "
                "even to us: support never needs them. I deleted your message and kept only "
                "the last four digits of the card."
            )
        try:
            await bot.send_message(chat_id, text, message_thread_id=thread_id)
        except TelegramAPIError as error:
            log.warning("could not warn about card data: %s", error.message)

    async def _locale(self, user: User | None) -> str:
        if user is None:
            return self.default_locale
        async with self.sessions() as session:
            account = await UserRepository(session).get(user.id)
        return pick_locale(
            account.locale if account else None, user.language_code, self.default_locale
        )


class DialogTimeoutMiddleware(BaseMiddleware):
    """Starts a dialog over when the person left it for DIALOG_TIMEOUT_HOURS.

    Sits on the buyers' router (outer, so it runs before the state filters): the
    moment of the last update in a dialog is kept in the dialog's own data under
    ACTIVE_AT, read from the injected clock, in whichever FSM storage is in use.
    """

    ACTIVE_AT = "_active_at"

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        state: FSMContext | None = data.get("state")
        chat: Chat | None = data.get("event_chat")
        if state is None or chat is None or chat.type != ChatType.PRIVATE:
            return await handler(event, data)
        settings: Settings = data["settings"]
        now = data["clock"].now()
        if data.get("raw_state") is not None:
            stamp = (await state.get_data()).get(self.ACTIVE_AT)
            limit = timedelta(hours=settings.dialog_timeout_hours)
            if stamp is not None and now - datetime.fromisoformat(stamp) >= limit:
                await state.clear()
                # aiogram's state filters read the state loaded before this middleware.
                data["raw_state"] = None
                await data["bot"].send_message(
                    chat.id,
                    _(
                        "It's been a while, so I closed the conversation we had started "
                        "(nothing from it was sent). Let's start over."
                    ),
                )
        result = await handler(event, data)
        if await state.get_state() is not None:
            await state.update_data({self.ACTIVE_AT: now.isoformat()})
        return result
