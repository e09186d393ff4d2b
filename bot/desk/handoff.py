"""The handoff: each case gets a topic in the agents' forum group, and messages flow both ways.

The database is the source of truth and the transcript is the relay's outbox: a
handler stores a message as "pending" and, once its unit of work has committed,
asks the handoff to `sync` the case. Syncing is idempotent, so the scheduler can
run it again after an outage or a restart and nothing is lost:

- the topic side (lane `(case, "topic")`) makes the topic and its card if they are
  missing (again, if somebody deleted the topic), reopens a topic closed by hand,
  posts the buyer's pending messages (an album as one album) and edits the card;
- the buyer side (lane `(case, "buyer")`) sends the agents' pending replies with
  the agent's name, and writes the first-response time when the first one arrives.

Every call goes through `Delivery`; what cannot be delivered is said in the topic.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.methods import (
    CreateForumTopic,
    EditForumTopic,
    EditMessageCaption,
    EditMessageText,
    ReopenForumTopic,
    SendAnimation,
    SendAudio,
    SendDocument,
    SendLocation,
    SendMediaGroup,
    SendMessage,
    SendPhoto,
    SendSticker,
    SendVideo,
    SendVideoNote,
    SendVoice,
    TelegramMethod,
)
from aiogram.types import (
    InlineKeyboardMarkup,
    InputMediaAudio,
    InputMediaDocument,
    InputMediaPhoto,
    InputMediaVideo,
    Message,
    MessageEntity,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.desk.card import (
    CardData,
    card_keyboard,
    card_text,
    erased_name,
    topic_name,
    transcript_text,
)
from bot.desk.delivery import Delivery as Lanes
from bot.desk.delivery import Sent, Undeliverable
from bot.desk.links import Misleading, reveal
from bot.domain.cases import CaseService, CaseType, Delivery, Sender
from storage.models import Case, CaseMessage, User
from storage.repositories.cases import CaseRepository
from storage.repositories.orders import OrderRepository

log = logging.getLogger("supportbot.handoff")

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ALBUM_LIMIT = 10
ALBUM_WAIT = 1.5
"""Seconds to wait for the rest of an album: Telegram delivers its parts one by one."""

# Telegram allows these six topic icon colours; one per kind of case.
ICON_COLORS: dict[str, int] = {
    CaseType.cancel_review: 0xFFD67E,
    CaseType.refund_not_received: 0xFB6F5F,
    CaseType.refund_check: 0xFB6F5F,
    CaseType.not_received: 0xCB86DB,
    CaseType.defect: 0xFF93B2,
    CaseType.payment: 0x8EEE98,
    CaseType.seller_question: 0x6FB9F0,
    CaseType.unknown_order: 0x6FB9F0,
    CaseType.general: 0x6FB9F0,
}
ALBUM_MEDIA: dict[str, Any] = {
    "photo": InputMediaPhoto,
    "video": InputMediaVideo,
    "document": InputMediaDocument,
    "audio": InputMediaAudio,
}
CAPTIONED = {"photo", "video", "document", "audio", "animation", "voice"}

Notice = Callable[[], tuple[str, InlineKeyboardMarkup | None]]
"""Builds a notice's text and buttons; called in the reader's language."""


@dataclass(frozen=True)
class Outgoing:
    """The calls that carry one transcript message (or one album) to the other side.

    `main` is the index of the call whose message stands for it (edits go there)."""

    calls: list[TelegramMethod[Any]]
    main: int


def split_text(text: str, limit: int) -> list[str]:
    """Split at paragraph, line or word boundaries so nothing is cut off."""
    parts: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind(sep, 0, limit + 1) for sep in ("\n\n", "\n", " "))
        if cut <= 0:
            cut = limit
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    parts.append(text)
    return [part for part in parts if part]


def _entities(row: CaseMessage) -> list[MessageEntity] | None:
    if not row.entities:
        return None
    return [MessageEntity.model_validate(item) for item in json.loads(row.entities)]


def outgoing(
    rows: Sequence[CaseMessage],
    chat_id: int,
    thread_id: int | None,
    *,
    signature: str = "",
    heading: str = "",
    warn: Callable[[Misleading], str] | None = None,
) -> Outgoing:
    """Calls that repeat `rows` (one message, or the parts of one album) in another chat.

    The signature is appended to the text or caption; content that cannot carry one
    (stickers, video notes, locations) gets the `heading` line before it. Text over
    Telegram's limits is split into several messages, never cut. With `warn` (a
    buyer's message going to agents), hidden links are written out next to their
    words, and `warn` words a line for each one that shows another host.
    """
    where: dict[str, Any] = {"chat_id": chat_id, "message_thread_id": thread_id}
    calls: list[TelegramMethod[Any]] = []
    first = rows[0]
    if len(rows) > 1:
        items: list[Any] = []
        for index, row in enumerate(rows):
            caption = row.text + (signature if index == 0 else "")
            media = ALBUM_MEDIA[row.content_type]
            items.append(media(media=row.file_id, caption=caption[:CAPTION_LIMIT] or None))
        calls.append(SendMediaGroup(media=items, **where))
        return Outgoing(calls, 0)
    kind = first.content_type
    body, entities = first.text, _entities(first)
    if warn is not None:
        body, entities = reveal(body, entities, warn)
    if kind == "text":
        text = body + signature
        parts = split_text(text, TEXT_LIMIT)
        entities = entities if len(parts) == 1 else None
        calls += [
            SendMessage(text=part, entities=entities if i == 0 else None, **where)
            for i, part in enumerate(parts)
        ]
        return Outgoing(calls, 0)
    if kind in CAPTIONED:
        caption = body + signature
        parts = split_text(caption, CAPTION_LIMIT) if caption else []
        entities = entities if len(parts) == 1 and not signature else None
        head = parts[0] if parts else None
        senders: dict[str, type[TelegramMethod[Any]]] = {
            "photo": SendPhoto,
            "video": SendVideo,
            "document": SendDocument,
            "audio": SendAudio,
            "animation": SendAnimation,
            "voice": SendVoice,
        }
        calls.append(
            senders[kind](**{kind: first.file_id}, caption=head, caption_entities=entities, **where)
        )
        calls += [SendMessage(text=part, **where) for part in parts[1:]]
        return Outgoing(calls, 0)
    if heading:
        calls.append(SendMessage(text=heading, **where))
    if kind == "sticker" and first.file_id:
        calls.append(SendSticker(sticker=first.file_id, **where))
    elif kind == "video_note" and first.file_id:
        calls.append(SendVideoNote(video_note=first.file_id, **where))
    elif kind == "location":
        latitude, longitude = (float(x) for x in first.text.split(","))
        calls.append(SendLocation(latitude=latitude, longitude=longitude, **where))
    else:
        calls.append(SendMessage(text=f"[{kind}] {first.text}".strip(), **where))
    return Outgoing(calls, len(calls) - 1)


def batches(rows: Sequence[CaseMessage]) -> list[list[CaseMessage]]:
    """Rows in order, the parts of an album together (up to 10 per album)."""
    result: list[list[CaseMessage]] = []
    for row in rows:
        last = result[-1] if result else None
        if (
            last is not None
            and row.media_group_id is not None
            and last[0].media_group_id == row.media_group_id
            and len(last) < ALBUM_LIMIT
        ):
            last.append(row)
        else:
            result.append([row])
    return result


class Handoff:
    """Brings cases' topics and relays up to date with the database. One per dispatcher."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        settings: Settings,
        clock: Clock,
        i18n: I18n,
        lanes: Lanes,
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.clock = clock
        self.i18n = i18n
        self.lanes = lanes
        self.tz = ZoneInfo(settings.timezone)
        self._cards: dict[int, str] = {}

    # ------------------------------------------------------------------ entry points

    def sync(self, bot: Bot, case_id: int) -> None:
        """Bring the case's topic, card and relays up to date (after a commit)."""
        self.lanes.submit((case_id, "topic"), lambda: self._sync_topic(bot, case_id))
        self.lanes.submit((case_id, "buyer"), lambda: self._sync_buyer(bot, case_id))

    def tell_buyer(self, bot: Bot, case_id: int, notice: Notice) -> None:
        """A notice from the bot to the case's buyer, in the buyer's language."""
        self.lanes.submit((case_id, "buyer"), lambda: self._tell_buyer(bot, case_id, notice))

    def tell_topic(self, bot: Bot, case_id: int, notice: Notice) -> None:
        """A notice in the case's topic, in AGENT_LOCALE."""
        self.lanes.submit((case_id, "topic"), lambda: self._tell_topic(bot, case_id, notice))

    def tell_group(self, bot: Bot, chat_id: int, notice: Notice) -> None:
        """A notice in an agents' group's General topic (reminders, hints)."""
        self.lanes.submit((chat_id, "general"), lambda: self._tell_group(bot, chat_id, notice))

    def erased(self, bot: Bot, case_id: int) -> None:
        """The buyer's data in the case was erased: say so in its topic, drop the
        buyer's name from the topic's title and bring the card up to date."""
        self.lanes.submit((case_id, "topic"), lambda: self._erased(bot, case_id))

    def edited(self, bot: Bot, case_id: int, row_id: int, sender: Sender) -> None:
        """A relayed message was edited: edit its copy on the other side."""
        lane = (case_id, "topic" if sender == Sender.buyer else "buyer")
        self.lanes.submit(lane, lambda: self._edit(bot, case_id, row_id))

    # ------------------------------------------------------------------ plumbing

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[tuple[AsyncSession, CaseService]]:
        async with self.sessions() as session:
            yield session, CaseService(CaseRepository(session), self.clock, self.settings)

    @contextmanager
    def speaking(self, locale: str) -> Iterator[None]:
        """Translate in `locale` (background jobs carry no person's locale)."""
        with self.i18n.context(), self.i18n.use_locale(locale):
            yield

    @contextmanager
    def agents(self) -> Iterator[None]:
        """Translate for the agents (AGENT_LOCALE)."""
        with self.speaking(self.settings.agent_locale):
            yield

    def signature(self, row: CaseMessage, locale: str) -> tuple[str, str]:
        """(appended signature, heading line) for an agent's reply, in the buyer's language."""
        if self.settings.agent_signature == "none" or not row.sender_name:
            return "", ""
        with self.speaking(locale):
            sign = "\n\n" + _("— {agent}, support team").format(agent=row.sender_name)
            heading = _("{agent} from the support team:").format(agent=row.sender_name)
        return sign, heading

    def link_warning(self, link: Misleading) -> str:
        """The agents' warning about a buyer's link that shows one host and leads to another."""
        with self.agents():
            return _(
                "⚠️ The link “{words}” shows {shown} but leads to {host}: check it before "
                "opening it."
            ).format(words=link.words, shown=link.shown, host=link.host)

    # ------------------------------------------------------------------ the topic side

    async def _sync_topic(self, bot: Bot, case_id: int) -> None:
        async with self._unit() as (session, cases):
            case = await cases.get(case_id)
            if case is None or (case.erased_at is not None and case.topic_id is None):
                return  # erased before it reached the agents: no topic to make
            if not await self._ensure_topic(bot, session, case):
                return
            pending = await cases.repo.pending(case.id, Sender.buyer)
            if any(row.media_group_id for row in pending):
                await self.lanes.sleep(ALBUM_WAIT)  # parts arriving meanwhile join the album
                pending = await cases.repo.pending(case.id, Sender.buyer)
            for rows in batches(pending):
                await self._post_rows(bot, session, cases, case, rows)
            await self._refresh_card(bot, session, case)

    async def _ensure_topic(self, bot: Bot, session: AsyncSession, case: Case) -> bool:
        """The case has a topic with its card; False when Telegram did not let us yet
        (the scheduler tries again)."""
        if case.topic_id is None and not await self._create_topic(bot, session, case):
            return False
        if case.card_message_id is not None:
            return True
        try:
            await self._post_card(bot, session, case)
            await self._post_history(bot, session, case)
        except Undeliverable as error:
            log.warning("case %s: card not posted: %s", case.id, error.reason)
            if error.topic_gone:  # deleted before its card arrived: made again next time
                case.topic_id = None
                await session.commit()
            return False
        return True

    async def _create_topic(self, bot: Bot, session: AsyncSession, case: Case) -> bool:
        chat_id = case.agent_chat_id or self.settings.agent_chat_for(case.locale)
        if chat_id is None:
            log.warning("case %s waits: AGENT_CHAT_ID is not set", case.id)
            return False
        buyer_name = await self._buyer_name(session, case)
        with self.agents():
            name = topic_name(case, buyer_name or erased_name())
        try:
            sent = await self.lanes.call(
                bot,
                CreateForumTopic(
                    chat_id=chat_id, name=name, icon_color=ICON_COLORS.get(case.type, 0x6FB9F0)
                ),
            )
        except Undeliverable as error:
            log.error("case %s: no topic in %s: %s", case.id, chat_id, error.reason)
            return False
        case.agent_chat_id = chat_id
        case.topic_id = sent.result.message_thread_id
        case.card_message_id = None
        await session.commit()
        self._cards.pop(case.id, None)
        return True

    async def _card(self, session: AsyncSession, case: Case) -> tuple[str, InlineKeyboardMarkup]:
        repo = CaseRepository(session)
        tags = await repo.tags(case.id)
        order = None
        earlier: list[Case] = []
        if case.buyer_id is not None:
            # Only the case's own buyer's order is shown: a number that is someone
            # else's shows as "not on record", whichever way it reached the case.
            if case.order_id:
                order = await OrderRepository(session).of_account(case.order_id, case.buyer_id)
            earlier = [c for c in await repo.for_buyer(case.buyer_id) if c.id < case.id]
        buyer_name = await self._buyer_name(session, case)
        with self.agents():
            data = CardData(case, buyer_name or erased_name(), tags, order, earlier)
            return card_text(data, self.tz), card_keyboard(case, tags)

    @staticmethod
    async def _buyer_name(session: AsyncSession, case: Case) -> str | None:
        """The buyer's first name; None once their data was erased."""
        if case.buyer_id is None or case.erased_at is not None:
            return None
        buyer = await session.get(User, case.buyer_id)
        return (buyer.first_name if buyer is not None else "") or str(case.buyer_id)

    async def _post_card(self, bot: Bot, session: AsyncSession, case: Case) -> None:
        assert case.agent_chat_id is not None
        text, markup = await self._card(session, case)
        sent = await self.lanes.call(bot, _in_topic(case, text, markup))
        case.card_message_id = sent.result.message_id
        self._cards[case.id] = text
        await session.commit()

    async def _post_history(self, bot: Bot, session: AsyncSession, case: Case) -> None:
        """The conversation so far, then its photos and files as albums."""
        history = [
            row
            for row in await CaseRepository(session).messages(case.id)
            if row.delivery != Delivery.pending
        ]
        if not history:
            return
        assert case.agent_chat_id is not None
        with self.agents():
            text = transcript_text(history, self.tz)
        for part in split_text(text, TEXT_LIMIT):
            await self.lanes.call(bot, _in_topic(case, part))
        for kinds in (("photo", "video"), ("document",)):
            files = [row for row in history if row.content_type in kinds and row.file_id]
            for start in range(0, len(files), ALBUM_LIMIT):
                chunk = files[start : start + ALBUM_LIMIT]
                for call in outgoing(chunk, case.agent_chat_id, case.topic_id).calls:
                    await self.lanes.call(bot, call)

    async def _topic_call(
        self, bot: Bot, session: AsyncSession, case: Case, build: Callable[[], Any]
    ) -> Sent[Any]:
        """A call into the case's topic; a topic deleted or closed by hand is brought back."""
        try:
            return await self.lanes.call(bot, build())
        except Undeliverable as error:
            assert case.agent_chat_id is not None
            assert case.topic_id is not None
            if error.topic_closed:
                await self.lanes.call(
                    bot,
                    ReopenForumTopic(chat_id=case.agent_chat_id, message_thread_id=case.topic_id),
                )
            elif error.topic_gone:
                log.info("case %s: topic %s was deleted; making a new one", case.id, case.topic_id)
                case.topic_id = None
                await session.commit()
                if not await self._ensure_topic(bot, session, case):
                    raise
            else:
                raise
        return await self.lanes.call(bot, build())

    async def _post_rows(
        self,
        bot: Bot,
        session: AsyncSession,
        cases: CaseService,
        case: Case,
        rows: list[CaseMessage],
    ) -> None:
        def send_all() -> Any:
            assert case.agent_chat_id is not None
            return outgoing(rows, case.agent_chat_id, case.topic_id, warn=self.link_warning)

        try:
            plan = send_all()
            sent = await self._topic_call(bot, session, case, lambda: send_all().calls[0])
            results = [sent]
            for call in send_all().calls[1:]:
                results.append(await self.lanes.call(bot, call))
        except Undeliverable as error:
            log.error("case %s: buyer's message not posted: %s", case.id, error.reason)
            for row in rows:
                row.delivery = Delivery.failed
            await session.commit()
            return
        await self._record(cases, case, rows, results[plan.main].result)
        await session.commit()
        if any(result.maybe_twice for result in results):
            await self._tell_topic(bot, case.id, _possibly_twice_in_topic)

    async def _record(
        self, cases: CaseService, case: Case, rows: list[CaseMessage], result: Any
    ) -> None:
        mirrors = result if isinstance(result, list) else [result] * len(rows)
        for row, mirror in zip(rows, mirrors, strict=True):
            assert isinstance(mirror, Message)
            await cases.record_delivered(case, row, mirror.message_id)

    async def _refresh_card(self, bot: Bot, session: AsyncSession, case: Case) -> None:
        if case.card_message_id is None or case.agent_chat_id is None:
            return
        text, markup = await self._card(session, case)
        if self._cards.get(case.id) == text:
            return
        try:
            await self.lanes.call(
                bot,
                EditMessageText(
                    chat_id=case.agent_chat_id,
                    message_id=case.card_message_id,
                    text=text,
                    reply_markup=markup,
                ),
            )
        except Undeliverable as error:
            if not error.not_modified:
                log.warning("case %s: card not updated: %s", case.id, error.reason)
                return
        self._cards[case.id] = text

    async def _tell_topic(self, bot: Bot, case_id: int, notice: Notice) -> None:
        async with self._unit() as (session, cases):
            case = await cases.get(case_id)
            if case is None or not await self._ensure_topic(bot, session, case):
                return
            assert case.agent_chat_id is not None
            with self.agents():
                text, markup = notice()
            try:
                await self._topic_call(
                    bot,
                    session,
                    case,
                    lambda: _in_topic(case, text, markup),
                )
            except Undeliverable as error:
                log.error("case %s: notice not posted: %s", case_id, error.reason)

    async def _erased(self, bot: Bot, case_id: int) -> None:
        async with self._unit() as (session, cases):
            case = await cases.get(case_id)
            if case is None or case.erased_at is None or case.erasure_told_at is not None:
                return
            if case.agent_chat_id is not None and case.topic_id is not None:
                with self.agents():
                    name = topic_name(case, erased_name())
                    note = _(
                        "🗑 The buyer's personal data in this case was erased (at their request "
                        "or after the retention period): their name, messages, files and "
                        "account link. Replies here no longer reach them."
                    )
                chat_id, thread_id = case.agent_chat_id, case.topic_id
                try:
                    await self.lanes.call(
                        bot, EditForumTopic(chat_id=chat_id, message_thread_id=thread_id, name=name)
                    )
                    await self.lanes.call(bot, _in_topic(case, note))
                except Undeliverable as error:  # a topic deleted by hand needs no note
                    log.warning("case %s: erasure not noted: %s", case.id, error.reason)
                await self._refresh_card(bot, session, case)
            case.erasure_told_at = self.clock.now()
            await session.commit()

    async def _tell_group(self, bot: Bot, chat_id: int, notice: Notice) -> None:
        with self.agents():
            text, markup = notice()
        try:
            await self.lanes.call(bot, SendMessage(chat_id=chat_id, text=text, reply_markup=markup))
        except Undeliverable as error:
            log.error("group %s: notice not posted: %s", chat_id, error.reason)

    # ------------------------------------------------------------------ the buyer side

    async def _sync_buyer(self, bot: Bot, case_id: int) -> None:
        async with self._unit() as (session, cases):
            case = await cases.get(case_id)
            if case is None or case.buyer_id is None:
                return  # erased: nobody to relay to
            answered_before = case.first_response_at
            pending = await cases.repo.pending(case.id, Sender.agent)
            if any(row.media_group_id for row in pending):
                await self.lanes.sleep(ALBUM_WAIT)  # parts arriving meanwhile join the album
                pending = await cases.repo.pending(case.id, Sender.agent)
            for rows in batches(pending):
                signature, heading = self.signature(rows[0], case.locale)
                plan = outgoing(rows, case.buyer_id, None, signature=signature, heading=heading)
                results: list[Sent[Any]] = []
                try:
                    for call in plan.calls:
                        results.append(await self.lanes.call(bot, call))
                except Undeliverable as error:
                    for row in rows:
                        row.delivery = Delivery.failed
                    await session.commit()
                    self.tell_topic(bot, case.id, _not_delivered(error))
                    continue
                await self._record(cases, case, rows, results[plan.main].result)
                await session.commit()
                if any(result.maybe_twice for result in results):
                    self.tell_topic(bot, case.id, _possibly_twice_to_buyer)
            if answered_before is None and case.first_response_at is not None:
                # The card shows when the first answer came.
                self.lanes.submit((case.id, "topic"), lambda: self._sync_topic(bot, case_id))

    async def _tell_buyer(self, bot: Bot, case_id: int, notice: Notice) -> None:
        async with self._unit() as (_session, cases):
            case = await cases.get(case_id)
            if case is None or case.buyer_id is None:
                return
            with self.speaking(case.locale):
                text, markup = notice()
            try:
                await self.lanes.call(
                    bot, SendMessage(chat_id=case.buyer_id, text=text, reply_markup=markup)
                )
            except Undeliverable as error:
                self.tell_topic(bot, case.id, _not_delivered(error))

    # ------------------------------------------------------------------ edits

    async def _edit(self, bot: Bot, case_id: int, row_id: int) -> None:
        async with self._unit() as (session, cases):
            case = await cases.get(case_id)
            row = await session.get(CaseMessage, row_id)
            if (
                case is None
                or case.buyer_id is None
                or row is None
                or row.delivery != Delivery.sent
            ):
                return  # a message still on its way goes out with the new wording
            if row.sender == Sender.buyer:
                chat_id, message_id = case.agent_chat_id, row.topic_message_id
                text, _entities_shown = reveal(row.text, _entities(row), self.link_warning)
            else:
                signature, _heading = self.signature(row, case.locale)
                chat_id, message_id = case.buyer_id, row.chat_message_id
                text = row.text + signature
            if chat_id is None or message_id is None:
                return
            limit = TEXT_LIMIT if row.content_type == "text" else CAPTION_LIMIT
            text = split_text(text, limit)[0] if text else text
            method: TelegramMethod[Any] = (
                EditMessageText(chat_id=chat_id, message_id=message_id, text=text)
                if row.content_type == "text"
                else EditMessageCaption(chat_id=chat_id, message_id=message_id, caption=text)
            )
            try:
                await self.lanes.call(bot, method)
            except Undeliverable as error:
                if not error.not_modified:
                    log.warning("case %s: edit not relayed: %s", case_id, error.reason)


def _in_topic(case: Case, text: str, markup: InlineKeyboardMarkup | None = None) -> SendMessage:
    assert case.agent_chat_id is not None
    return SendMessage(
        chat_id=case.agent_chat_id, message_thread_id=case.topic_id, text=text, reply_markup=markup
    )


def _possibly_twice_in_topic() -> tuple[str, InlineKeyboardMarkup | None]:
    return _(
        "⚠️ The connection broke while the buyer's message above was being posted, "
        "so it was posted again: it may appear twice."
    ), None


def _possibly_twice_to_buyer() -> tuple[str, InlineKeyboardMarkup | None]:
    return _(
        "⚠️ The connection broke while the last reply was being sent to the buyer, "
        "so it was sent again: the buyer may see it twice."
    ), None


def _not_delivered(error: Undeliverable) -> Notice:
    def notice() -> tuple[str, InlineKeyboardMarkup | None]:
        if error.blocked:
            return _(
                "⚠️ Not delivered: the buyer has blocked the bot. They will not see "
                "anything from this case until they unblock it."
            ), None
        return _("⚠️ Not delivered to the buyer: Telegram answered “{reason}”.").format(
            reason=error.reason
        ), None

    return notice
