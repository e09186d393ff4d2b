"""Plumbing around every update: card data masked at the door, the unit of work and
the person's account, and dialogs left too long started over."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.fsm.context import FSMContext
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.types import Chat, Message, MessageEntity, TelegramObject, Update, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.desk.handoff import Handoff
from bot.domain.card_guard import Scan, scan, scan_split
from bot.i18n import pick_locale
from bot.services import Services
from storage import fsm
from storage.models import User as Account
from storage.repositories.inbox import InboxRepository
from storage.repositories.orders import OrderRepository
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
        dialogs: FSMContextMiddleware,
        handoff: Handoff | None = None,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.dialogs = dialogs
        """aiogram's FSM middleware, next in line: which dialog key the update has."""
        storage = dialogs.storage
        self.dialog_rows = storage if isinstance(storage, fsm.SqlStorage) else None
        """The SQL dialog storage, whose row comes with the account; None with Redis."""
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
                    account = await self._visit(svc, user, self._dialog_key(data))
                elif dialog_key := self._dialog_key(data):
                    # Dialogs live in private chats only (the agents' router keeps no
                    # state): anyone writing in a group has no dialog row.
                    fsm.remember(session, dialog_key, None)
                data["account"] = account
                data["saved_locale"] = account.locale if account is not None else None
                result = await handler(event, data)
                if isinstance(event, Update):
                    # Handled: done in the same transaction as what handling it changed.
                    await InboxRepository(session).done(event.update_id, self.clock.now())
                await session.commit()
                svc.committed()
                return result

    def _dialog_key(self, data: dict[str, Any]) -> str:
        """The update's dialog row key in the SQL dialog storage; "" with Redis or when
        the update has no dialog."""
        if self.dialog_rows is None:
            return ""
        context = self.dialogs.resolve_event_context(data["bot"], data)
        return "" if context is None else self.dialog_rows.row_key(context.key)

    async def _visit(self, svc: Services, user: User, dialog_key: str) -> Account:
        """The person's account, touched; the row of `dialog_key` and their cases come
        with it, so the update's later reads of them cost no query."""
        visit = await svc.users.touch(
            user.id, user.first_name, user.language_code, self.clock.now(), dialog_key
        )
        if dialog_key and visit.dialog_read:
            fsm.remember(svc.session, dialog_key, visit.dialog)
        svc.cases.known(user.id, visit.cases)
        return visit.account


@dataclass(frozen=True)
class _Recent:
    """A buyer's last message, kept SPLIT_WINDOW to catch a card number split over two."""

    at: datetime
    message: Message


class CardGuardMiddleware(BaseMiddleware):
    """Card numbers and security codes never get past the door in clear.

    Outer and first on every update: a message or edit whose text, caption or hidden
    link (`text_link` URL) holds card data goes on with the digits masked (the last
    four of a card stay), so handlers, transcripts and relays only ever see the masked
    copy. The person's original message is deleted from the chat and they are warned,
    in their language, never to send card data; then their dialog carries on as usual.

    A number the buyer calls an order number is masked too, unless it is one of their
    own orders. A number split over two messages sent within SPLIT_WINDOW is one
    number: the second message is masked, and the first is deleted and masked where it
    was kept, by passing its masked copy on as an edit (the transcript and the agents'
    copy follow edits). The last message is kept in this process's memory only.
    """

    SPLIT_WINDOW = timedelta(seconds=60)

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        i18n: I18n,
        default_locale: str,
        clock: Clock,
    ) -> None:
        self.sessions = sessions
        self.i18n = i18n
        self.default_locale = default_locale
        self.clock = clock
        self.recent: OrderedDict[tuple[int, int], _Recent] = OrderedDict()
        """Each person's last message, the longest-silent first."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not isinstance(event, Update):
            return await handler(event, data)
        bot: Bot = data["bot"]
        for kind in ("message", "edited_message"):
            message: Message | None = getattr(event, kind)
            if message is None:
                continue
            masked = await self._masked(message)
            earlier = None
            if kind == "message":
                masked, earlier = self._split(masked or message, masked)
            if masked is not None:
                event = event.model_copy(update={kind: masked}).as_(bot)
            if earlier is not None:
                await self._delete(bot, earlier)
                edit = Update(update_id=event.update_id, edited_message=earlier).as_(bot)
                await handler(edit, dict(data))
            if masked is not None or earlier is not None:
                await self._delete(bot, message)
                await self._warn(bot, message)
        return await handler(event, data)

    async def _masked(self, message: Message) -> Message | None:
        changes = _mask_fields(message, ())
        if changes is None:
            return None
        numbers = changes.pop("_numbers")
        own = await self._own_orders(message, numbers) if numbers else set()
        if own:
            changes = _mask_fields(message, own)
            if changes is None:
                return None
            changes.pop("_numbers")
        return message.model_copy(update=changes)

    async def _own_orders(self, message: Message, numbers: tuple[str, ...]) -> set[str]:
        """Which of these numbers are the buyer's own orders (only those may pass)."""
        user = message.from_user
        if user is None or message.chat.type != ChatType.PRIVATE:
            return set()
        async with self.sessions() as session:
            account = await UserRepository(session).get(user.id)
            orders = OrderRepository(session)
            buyer_id = account.buyer_id if account is not None else None
            return {n for n in numbers if await orders.find_owned(n, user.id, buyer_id)}

    def _split(
        self, message: Message, masked: Message | None
    ) -> tuple[Message | None, Message | None]:
        """(this message masked, the earlier one masked) when a card runs across both."""
        user = message.from_user
        if user is None or message.chat.type != ChatType.PRIVATE:
            return masked, None
        now, key = self.clock.now(), (message.chat.id, user.id)
        recent = self._remember(key, _Recent(now, message))
        if recent is None or now - recent.at >= self.SPLIT_WINDOW:
            return masked, None
        before_field, before = _body(recent.message)
        field, after = _body(message)
        if not before or not after:
            return masked, None
        split = scan_split(before, after)
        if split is None:
            return masked, None
        first, second = split
        masked = message.model_copy(update={field: second.text})
        earlier = recent.message.model_copy(update={before_field: first, "edit_date": now})
        self.recent[key] = _Recent(now, masked)
        return masked, earlier

    def _remember(self, key: tuple[int, int], last: _Recent) -> _Recent | None:
        """Keep the person's last message; the one it replaces. Messages older than
        SPLIT_WINDOW are let go from the front of the queue, so each message costs the
        same however many people write."""
        recent = self.recent.pop(key, None)
        self.recent[key] = last
        while last.at - next(iter(self.recent.values())).at >= self.SPLIT_WINDOW:
            self.recent.popitem(last=False)
        return recent

    @staticmethod
    async def _delete(bot: Bot, message: Message) -> None:
        try:
            await bot.delete_message(message.chat.id, message.message_id)
        except TelegramAPIError as error:
            # Too old to delete, or no right to: the masked copy is still all we keep.
            log.warning("could not delete a message with card data: %s", error.message)

    async def _warn(self, bot: Bot, message: Message) -> None:
        chat_id, thread_id = message.chat.id, message.message_thread_id
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


def _body(message: Message) -> tuple[str, str]:
    """(the field that holds the message's words, the words)."""
    if message.text is not None:
        return "text", message.text
    return "caption", message.caption or ""


def _mask_fields(message: Message, own: Collection[str]) -> dict[str, Any] | None:
    """The masked fields of a message (text, caption, hidden links' URLs), or None when
    there is nothing to mask; `_numbers` lists the card numbers found."""
    changes: dict[str, Any] = {}
    numbers: list[str] = []
    for field, entities_field in (("text", "entities"), ("caption", "caption_entities")):
        value = getattr(message, field)
        if value:
            found = scan(value, own)
            if found.found:
                changes[field] = found.text
                numbers.extend(found.numbers)
        entities: list[MessageEntity] | None = getattr(message, entities_field)
        if entities and any(e.url for e in entities):
            kept = []
            for entity in entities:
                hidden: Scan | None = scan(entity.url, own) if entity.url else None
                if hidden is not None and hidden.found:
                    numbers.extend(hidden.numbers)
                    entity = entity.model_copy(update={"url": hidden.text})
                kept.append(entity)
            if kept != entities:
                changes[entities_field] = kept
    if not changes:
        return None
    changes["_numbers"] = tuple(numbers)
    return changes


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
