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

Every call goes through `Delivery`. A message Telegram refuses only for a while (5xx,
429, the network) stays pending and the scheduler tries again with backoff until
DELIVERY_GIVE_UP_HOURS; a message it refuses for good is marked failed and the other
side is told. Rows are marked "sending" before the call, so a crash between the call
and its record is found on the next start and the message goes again, flagged "may
appear twice". Buyer texts waiting together (a busy group, a flooding buyer) are
gathered into one post.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
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
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.config import Settings
from bot.desk import pacing
from bot.desk.card import (
    CardData,
    card_keyboard,
    card_text,
    erased_name,
    shown_by_row,
    topic_name,
    transcript_text,
)
from bot.desk.delivery import IN_TURN, Sent, Undeliverable
from bot.desk.delivery import Delivery as Lanes
from bot.desk.links import Misleading, reveal
from bot.domain.cases import TOPIC_REQUESTED, CaseService, CaseType, Delivery, Sender
from storage.models import Case, CaseMessage, User
from storage.repositories.cases import CaseRepository
from storage.repositories.orders import OrderRepository

log = logging.getLogger("supportbot.handoff")

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
ALBUM_LIMIT = 10
ALBUM_WAIT = 1.5
"""Seconds to wait for the rest of an album: Telegram delivers its parts one by one."""
CARD_CACHE = 1024
"""Cards remembered (to skip rebuilding and editing those that did not change); the
oldest are forgotten."""
MAX_RETRY_SECONDS = 300.0
"""The longest wait between two tries of a message Telegram refuses for a while."""

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

DATABASE_TURNS = 4
"""Lane jobs that may use the database at once. The others wait for a turn here, in
order and without a deadline, instead of in the connection pool, whose 30-second
timeout would fail them when hundreds of cases are brought up to date together; and a
job gives its turn back while it waits for Telegram. Fewer than the pool's five
connections, so the updates being handled always find one."""


class DatabaseTurns:
    """DATABASE_TURNS turns to use the database, handed out in order, except that a job
    coming back from Telegram goes ahead of jobs not yet started: it finishes sooner,
    and the jobs in hand keep Telegram's budget busy."""

    def __init__(self, turns: int) -> None:
        self._free = turns
        self._resuming: deque[asyncio.Future[None]] = deque()
        self._starting: deque[asyncio.Future[None]] = deque()

    async def take(self, *, resuming: bool) -> None:
        if self._free > 0:  # a free turn means nobody is waiting: give_back serves them first
            self._free -= 1
            return
        waiter = asyncio.get_running_loop().create_future()
        queue = self._resuming if resuming else self._starting
        queue.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.give_back()  # handed over just as it was cancelled
            elif waiter in queue:
                queue.remove(waiter)
            raise

    def give_back(self) -> None:
        for queue in (self._resuming, self._starting):
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._free += 1


@dataclass
class _Job:
    """The lane job running in a task: its session, and whether it holds a turn."""

    session: AsyncSession
    task: asyncio.Task[Any] | None
    holds_turn: bool = True


_JOB: ContextVar[_Job | None] = ContextVar("handoff_job", default=None)


def _current_job() -> _Job | None:
    """This task's job. A lane's task copies the context of whoever started the lane,
    which may be another job: that one is not ours."""
    job = _JOB.get()
    return job if job is not None and job.task is asyncio.current_task() else None


T = TypeVar("T")


@dataclass(frozen=True)
class _Card:
    """A case card as it stands in the topic: what it was built from, and its text."""

    shown: tuple[object, ...]
    text: str


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
    if len(rows) > 1 and first.content_type == "text":  # texts gathered into one post
        text = "\n".join(row.text for row in rows) + signature
        calls += [SendMessage(text=part, **where) for part in split_text(text, TEXT_LIMIT)]
        return Outgoing(calls, 0)
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


def batches(rows: Sequence[CaseMessage], *, gather: bool = False) -> list[list[CaseMessage]]:
    """Rows in order, the parts of an album together (up to 10 per album); with `gather`,
    plain texts waiting one after another too, as long as they fit in one message."""
    result: list[list[CaseMessage]] = []
    for row in rows:
        last = result[-1] if result else None
        if last is not None and (
            (
                row.media_group_id is not None
                and last[0].media_group_id == row.media_group_id
                and len(last) < ALBUM_LIMIT
            )
            or (
                gather
                and _plain_text(row)
                and _plain_text(last[0])
                and sum(len(r.text) + 1 for r in last) + len(row.text) <= TEXT_LIMIT
            )
        ):
            last.append(row)
        else:
            result.append([row])
    return result


def _plain_text(row: CaseMessage) -> bool:
    return row.content_type == "text" and row.media_group_id is None


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
        self._cards: OrderedDict[int, _Card] = OrderedDict()
        self._card_versions: OrderedDict[int, int] = OrderedDict()
        self._turns = DatabaseTurns(DATABASE_TURNS)

    # ------------------------------------------------------------------ entry points

    def sync(self, bot: Bot, case_id: int, *, topic: bool = True, buyer: bool = True) -> None:
        """Bring the case's topic, card and relays up to date (after a commit).

        `buyer=False` when nothing new waits for the buyer (a buyer's message, a status
        change), `topic=False` when nothing changed on the topic's side (an agent's reply
        that moved neither the case's status nor its agent): that side is left to the
        scheduler's rounds, which retry what Telegram refused there, and this costs no
        lane job, session or query. Once the buyer has the first reply, the card is
        brought up to date anyway (it shows the first response)."""
        if topic:
            self._case_lane(case_id, "topic", lambda: self._sync_topic(bot, case_id), "sync")
        if buyer:
            self._case_lane(case_id, "buyer", lambda: self._sync_buyer(bot, case_id), "sync")

    def tell_buyer(self, bot: Bot, case_id: int, notice: Notice) -> None:
        """A notice from the bot to the case's buyer, in the buyer's language."""
        self._case_lane(case_id, "buyer", lambda: self._tell_buyer(bot, case_id, notice))

    def tell_topic(self, bot: Bot, case_id: int, notice: Notice) -> None:
        """A notice in the case's topic, in AGENT_LOCALE."""
        self._case_lane(case_id, "topic", lambda: self._tell_topic(bot, case_id, notice))

    def tell_group(self, bot: Bot, chat_id: int, notice: Notice, *, first: bool = False) -> None:
        """A notice in an agents' group's General topic (reminders, hints); `first`
        goes ahead of everything queued for the group."""
        self.lanes.submit(
            (chat_id, "general"),
            lambda: self._tell_group(bot, chat_id, notice),
            priority=pacing.FIRST if first else 0,
        )

    def queue_note(self, bot: Bot, chat_id: int, backlog: float) -> None:
        """The queue to an agents' group is long: say so in its General topic (the pacer
        calls this once per backlog)."""
        per_minute = self.settings.group_messages_per_minute
        self.tell_group(bot, chat_id, _queue_note(per_minute, backlog), first=True)

    def erased(self, bot: Bot, case_id: int) -> None:
        """The buyer's data in the case was erased: say so in its topic, drop the
        buyer's name from the topic's title and bring the card up to date."""
        self.lanes.submit((case_id, "topic"), lambda: self._erased(bot, case_id))

    def card_changed(self, case_id: int) -> None:
        """Something the case's card shows changed outside the case's own row (a tag):
        its next refresh builds the card again, whatever the row says."""
        self._card_versions[case_id] = self._card_versions.get(case_id, 0) + 1
        self._card_versions.move_to_end(case_id)
        while len(self._card_versions) > CARD_CACHE:
            self._card_versions.popitem(last=False)

    def edited(self, bot: Bot, case_id: int, row_id: int, sender: Sender) -> None:
        """A relayed message was edited: edit its copy on the other side."""
        side = "topic" if sender == Sender.buyer else "buyer"
        self._case_lane(case_id, side, lambda: self._edit(bot, case_id, row_id))

    def _case_lane(
        self, case_id: int, side: str, job: Callable[[], Any], coalesce: str | None = None
    ) -> None:
        # When their chat has a queue, a case's jobs wait in the order they start.
        self.lanes.submit((case_id, side), job, coalesce=coalesce, priority=IN_TURN)

    # ------------------------------------------------------------------ plumbing

    @asynccontextmanager
    async def _unit(self) -> AsyncIterator[tuple[AsyncSession, CaseService]]:
        await self._turns.take(resuming=False)
        job: _Job | None = None
        try:
            async with self.sessions() as session:
                job = _Job(session, asyncio.current_task())
                token = _JOB.set(job)
                try:
                    yield session, CaseService(CaseRepository(session), self.clock, self.settings)
                finally:
                    _JOB.reset(token)
        finally:
            if job is None or job.holds_turn:
                self._turns.give_back()

    async def _call(self, bot: Bot, method: TelegramMethod[T]) -> Sent[T]:
        """One call through the lanes. The job's transaction ends first, and its database
        turn is given back: a call may wait long for its turn with Telegram (its limits),
        and must not hold a connection meanwhile (200 waiting cases would empty the pool)."""
        job = _current_job()
        if job is None:
            return await self.lanes.call(bot, method)
        if job.session.in_transaction():
            await job.session.commit()
        job.holds_turn = False
        self._turns.give_back()
        try:
            return await self.lanes.call(bot, method)
        finally:
            await self._turns.take(resuming=True)
            job.holds_turn = True

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
            case, unsent = await cases.repo.with_unsent(case_id, Sender.buyer)
            if case is None or (case.erased_at is not None and case.topic_id is None):
                return  # erased before it reached the agents: no topic to make
            had_card = case.card_message_id is not None
            ready = case.topic_id is not None and had_card and case.history_posted
            if not await self._ensure_topic(bot, session, case):
                return
            if not ready:  # that took calls to Telegram: what was written meanwhile goes too
                unsent = await cases.repo.pending(case.id, Sender.buyer)
            pending = _interrupted(unsent)
            if any(row.media_group_id for row in pending):
                await self.lanes.sleep(ALBUM_WAIT)  # parts arriving meanwhile join the album
                pending = _interrupted(await cases.repo.pending(case.id, Sender.buyer))
            for rows in batches(pending, gather=True):
                if not await self._post_rows(bot, session, cases, case, rows):
                    break  # Telegram refuses for now: the rest waits, in order
            if had_card or pending:  # a card posted just now is up to date
                await self._refresh_card(bot, session, case)

    async def _ensure_topic(self, bot: Bot, session: AsyncSession, case: Case) -> bool:
        """The case has a topic with its card and the conversation so far; False when
        Telegram did not let us yet (the scheduler tries again)."""
        if case.topic_id is None and not await self._create_topic(bot, session, case):
            return False
        if case.card_message_id is not None and case.history_posted:
            return True
        try:
            if case.card_message_id is None:
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
        # The request is stored before the call (which commits first) and its outcome
        # after it: a request with no outcome is an earlier try that Telegram may have
        # carried out (its answer was lost, or the bot stopped before storing the id).
        cases = CaseService(CaseRepository(session), self.clock, self.settings)
        earlier = await cases.topic_outcome_unknown(case)
        if not earlier:
            cases.topic_event(case, TOPIC_REQUESTED)
        try:
            sent = await self._call(
                bot,
                CreateForumTopic(
                    chat_id=chat_id, name=name, icon_color=ICON_COLORS.get(case.type, 0x6FB9F0)
                ),
            )
        except Undeliverable as error:
            log.error("case %s: no topic in %s: %s", case.id, chat_id, error.reason)
            if not error.unknown:  # Telegram answered: no topic was made
                cases.topic_event(case, "refused")
                await session.commit()
            return False
        case.agent_chat_id = chat_id
        case.topic_id = sent.result.message_thread_id
        case.card_message_id = None
        case.history_posted = False
        cases.topic_event(case, "created")
        await session.commit()
        self._cards.pop(case.id, None)
        if earlier or sent.maybe_twice:
            self.tell_topic(bot, case.id, _earlier_topic(name))
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
        shown = self._shown(case)
        text, markup = await self._card(session, case)
        sent = await self._call(bot, _in_topic(case, text, markup))
        case.card_message_id = sent.result.message_id
        self._remember_card(case.id, _Card(shown, text))
        await session.commit()

    def _shown(self, case: Case) -> tuple[object, ...]:
        """What the card is built from, as far as the case's row and `card_changed` say;
        read before the card is built, so a change committed meanwhile is seen next time."""
        return (self._card_versions.get(case.id, 0), *shown_by_row(case))

    def _remember_card(self, case_id: int, card: _Card) -> None:
        self._cards[case_id] = card
        self._cards.move_to_end(case_id)
        while len(self._cards) > CARD_CACHE:
            self._cards.popitem(last=False)

    async def _post_history(self, bot: Bot, session: AsyncSession, case: Case) -> None:
        """The conversation so far, then its photos and files as albums."""
        history = [
            row
            for row in await CaseRepository(session).messages(case.id)
            if row.delivery not in (Delivery.pending, Delivery.sending)
        ]
        if history:
            await self._post_transcript(bot, case, history)
        case.history_posted = True
        await session.commit()

    async def _post_transcript(self, bot: Bot, case: Case, history: list[CaseMessage]) -> None:
        assert case.agent_chat_id is not None
        with self.agents():
            text = transcript_text(history, self.tz)
        for part in split_text(text, TEXT_LIMIT):
            await self._call(bot, _in_topic(case, part))
        for kinds in (("photo", "video"), ("document",)):
            files = [row for row in history if row.content_type in kinds and row.file_id]
            for start in range(0, len(files), ALBUM_LIMIT):
                chunk = files[start : start + ALBUM_LIMIT]
                for call in outgoing(chunk, case.agent_chat_id, case.topic_id).calls:
                    await self._call(bot, call)

    async def _topic_call(
        self, bot: Bot, session: AsyncSession, case: Case, build: Callable[[], Any]
    ) -> Sent[Any]:
        """A call into the case's topic; a topic deleted or closed by hand is brought back."""
        try:
            return await self._call(bot, build())
        except Undeliverable as error:
            assert case.agent_chat_id is not None
            assert case.topic_id is not None
            if error.topic_closed:
                await self._call(
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
        return await self._call(bot, build())

    async def _post_rows(
        self,
        bot: Bot,
        session: AsyncSession,
        cases: CaseService,
        case: Case,
        rows: list[CaseMessage],
    ) -> bool:
        """Post the buyer's rows in the topic; False when Telegram refuses for now."""

        planned: dict[tuple[int, int | None], Outgoing] = {}

        def plan() -> Outgoing:
            """The calls, built once for the topic they go to (a topic deleted by hand
            is made again in `_topic_call`, and then they go to the new one)."""
            assert case.agent_chat_id is not None
            where = (case.agent_chat_id, case.topic_id)
            if where not in planned:
                planned[where] = outgoing(rows, *where, warn=self.link_warning)
            return planned[where]

        async def send(results: list[Sent[Any]]) -> None:
            results.append(await self._topic_call(bot, session, case, lambda: plan().calls[0]))
            for call in plan().calls[1:]:
                results.append(await self._call(bot, call))

        error = await self._carry(bot, session, cases, case, rows, plan().main, send)
        if error is None:
            return True
        if error.transient:
            return False
        log.error("case %s: buyer's message not posted: %s", case.id, error.reason)
        self.tell_topic(bot, case.id, _not_posted(error, rows))
        self.tell_buyer(bot, case.id, _not_passed_on)
        return True

    async def _carry(
        self,
        bot: Bot,
        session: AsyncSession,
        cases: CaseService,
        case: Case,
        rows: list[CaseMessage],
        main: int,
        send: Callable[[list[Sent[Any]]], Any],
    ) -> Undeliverable | None:
        """The outbox step shared by both sides: mark the rows "sending" (so a crash
        during the call is found on the next start), send, then record what happened.

        Returns None when they arrived; the refusal otherwise, after which they are
        pending again (refused for now: tried later, with backoff) or failed (refused
        for good, or for longer than DELIVERY_GIVE_UP_HOURS).

        A buyer's message that may arrive twice is said in the topic before anything
        that a crash could cut short: before sending it again when a crash left it
        "sending", and before recording it as sent when the connection broke during
        this call. Killed at any moment, the topic never shows it twice unflagged."""
        to_topic = rows[0].sender == Sender.buyer
        again = any(row.maybe_twice for row in rows)
        if again and to_topic:
            await self._notice_in_topic(bot, session, cases, case.id, _posted_again_in_topic)
        await cases.sending(rows)
        await session.commit()
        results: list[Sent[Any]] = []
        try:
            await send(results)
        except Undeliverable as error:
            # Part of a split message may have arrived: a later try repeats it.
            self._refused(rows, error, partly=bool(results))
            await session.commit()
            if error.transient and rows[0].delivery == Delivery.failed:
                error = GaveUp(error.reason, self.settings.delivery_give_up_hours)
            return error
        doubled = any(result.maybe_twice for result in results)
        if doubled and to_topic and not again:
            await self._notice_in_topic(bot, session, cases, case.id, _possibly_twice_in_topic)
        await self._record(cases, case, rows, results[main].result)
        await session.commit()
        if (again or doubled) and not to_topic:
            self.tell_topic(bot, case.id, _possibly_twice_to_buyer)
        return None

    def _refused(self, rows: list[CaseMessage], error: Undeliverable, *, partly: bool) -> None:
        now = self.clock.now()
        limit = timedelta(hours=self.settings.delivery_give_up_hours)
        if not error.transient or now - rows[0].at >= limit:
            for row in rows:
                row.delivery = Delivery.failed
                row.retry_at = None
            return
        attempts = max(row.attempts for row in rows) + 1
        base = self.settings.scheduler_interval_seconds
        wait = min(base * 2 ** (attempts - 1), MAX_RETRY_SECONDS)
        log.info(
            "%d message(s) refused for now (%s): next try in %.0f s", len(rows), error.reason, wait
        )
        for row in rows:
            row.delivery = Delivery.pending
            row.attempts = attempts
            row.retry_at = now + timedelta(seconds=wait)
            row.maybe_twice = row.maybe_twice or error.unknown or partly

    async def _record(
        self, cases: CaseService, case: Case, rows: list[CaseMessage], result: Any
    ) -> None:
        mirrors = result if isinstance(result, list) else [result] * len(rows)
        for row, mirror in zip(rows, mirrors, strict=True):
            assert isinstance(mirror, Message)
            await cases.record_delivered(case, row, mirror.message_id)

    async def _refresh_card(self, bot: Bot, session: AsyncSession, case: Case) -> None:
        """Edit the card when what it shows changed. A relayed message changes nothing
        on it, so the card (four queries) is built only when the case's row shows a
        change or `card_changed` said so. The buyer's name, their order and their
        earlier cases are read whenever the card is built, not watched in between."""
        if case.card_message_id is None or case.agent_chat_id is None:
            return
        shown = self._shown(case)
        remembered = self._cards.get(case.id)
        if remembered is not None and remembered.shown == shown:
            return
        text, markup = await self._card(session, case)
        if remembered is not None and remembered.text == text:
            self._remember_card(case.id, _Card(shown, text))
            return
        try:
            await self._call(
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
        self._remember_card(case.id, _Card(shown, text))

    async def _tell_topic(self, bot: Bot, case_id: int, notice: Notice) -> None:
        async with self._unit() as (session, cases):
            await self._notice_in_topic(bot, session, cases, case_id, notice)

    async def _notice_in_topic(
        self, bot: Bot, session: AsyncSession, cases: CaseService, case_id: int, notice: Notice
    ) -> None:
        case = await cases.get(case_id)
        if case is None or not await self._ensure_topic(bot, session, case):
            return
        assert case.agent_chat_id is not None
        with self.agents():
            text, markup = notice()
        try:
            await self._topic_call(bot, session, case, lambda: _in_topic(case, text, markup))
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
            await self._call(bot, SendMessage(chat_id=chat_id, text=text, reply_markup=markup))
        except Undeliverable as error:
            log.error("group %s: notice not posted: %s", chat_id, error.reason)

    # ------------------------------------------------------------------ the buyer side

    async def _sync_buyer(self, bot: Bot, case_id: int) -> None:
        async with self._unit() as (session, cases):
            case, unsent = await cases.repo.with_unsent(case_id, Sender.agent)
            if case is None or case.buyer_id is None:
                return  # erased: nobody to relay to
            answered_before = case.first_response_at
            pending = _interrupted(unsent)
            if any(row.media_group_id for row in pending):
                await self.lanes.sleep(ALBUM_WAIT)  # parts arriving meanwhile join the album
                pending = _interrupted(await cases.repo.pending(case.id, Sender.agent))
            for rows in batches(pending):
                if not await self._send_rows(bot, session, cases, case, rows):
                    break  # Telegram refuses for now: the rest waits, in order
            if answered_before is None and case.first_response_at is not None:
                # The card shows when the first answer came.
                self._case_lane(case.id, "topic", lambda: self._sync_topic(bot, case_id))

    async def _send_rows(
        self,
        bot: Bot,
        session: AsyncSession,
        cases: CaseService,
        case: Case,
        rows: list[CaseMessage],
    ) -> bool:
        """Send the agents' rows to the buyer; False when Telegram refuses for now."""
        assert case.buyer_id is not None  # _sync_buyer stops at an erased buyer
        signature, heading = self.signature(rows[0], case.locale)
        plan = outgoing(rows, case.buyer_id, None, signature=signature, heading=heading)

        async def send(results: list[Sent[Any]]) -> None:
            for call in plan.calls:
                results.append(await self._call(bot, call))

        error = await self._carry(bot, session, cases, case, rows, plan.main, send)
        if error is None:
            return True
        if error.transient:
            return False
        self.tell_topic(bot, case.id, _not_delivered(error))
        return True

    async def _tell_buyer(self, bot: Bot, case_id: int, notice: Notice) -> None:
        async with self._unit() as (_session, cases):
            case = await cases.get(case_id)
            if case is None or case.buyer_id is None:
                return
            with self.speaking(case.locale):
                text, markup = notice()
            try:
                await self._call(
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
                await self._call(bot, method)
            except Undeliverable as error:
                if not error.not_modified:
                    log.warning("case %s: edit not relayed: %s", case_id, error.reason)


class GaveUp(Undeliverable):
    """Telegram refused a message for longer than DELIVERY_GIVE_UP_HOURS."""

    def __init__(self, reason: str, hours: float) -> None:
        super().__init__(reason)
        self.hours = hours


def _interrupted(rows: Sequence[CaseMessage]) -> Sequence[CaseMessage]:
    """Rows left "sending" were cut short by a stop (the lane reading them owns their
    side, so nobody is sending them now): they go again, flagged "may appear twice"."""
    for row in rows:
        if row.delivery == Delivery.sending:
            log.warning("case %s: a message was being sent when the bot stopped", row.case_id)
            row.delivery = Delivery.pending
            row.maybe_twice = True
    return rows


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


def _posted_again_in_topic() -> tuple[str, InlineKeyboardMarkup | None]:
    return _(
        "⚠️ The buyer's next message was being posted when the connection broke or the "
        "bot stopped, so it is posted again: it may appear twice."
    ), None


def _earlier_topic(name: str) -> Notice:
    def notice() -> tuple[str, InlineKeyboardMarkup | None]:
        return _(
            "⚠️ The connection broke or the bot stopped while this case's topic was being "
            "made, so the group may also have an earlier topic named «{name}» with nothing "
            "in it. Everything about the case is here; the empty one can be deleted."
        ).format(name=name), None

    return notice


def _possibly_twice_to_buyer() -> tuple[str, InlineKeyboardMarkup | None]:
    return _(
        "⚠️ The connection broke while the last reply was being sent to the buyer, "
        "so it was sent again: the buyer may see it twice."
    ), None


def _not_delivered(error: Undeliverable) -> Notice:
    def notice() -> tuple[str, InlineKeyboardMarkup | None]:
        if isinstance(error, GaveUp):
            return _("⚠️ Not delivered to the buyer: {why}.").format(why=_why(error)), None
        if error.blocked:
            return _(
                "⚠️ Not delivered: the buyer has blocked the bot. They will not see "
                "anything from this case until they unblock it."
            ), None
        return _("⚠️ Not delivered to the buyer: Telegram answered “{reason}”.").format(
            reason=error.reason
        ), None

    return notice


def _why(error: Undeliverable) -> str:
    """Why Telegram did not take a message, for the agents."""
    if isinstance(error, GaveUp):
        return ngettext(
            "Telegram kept refusing it for {hours} hour (“{reason}”)",
            "Telegram kept refusing it for {hours} hours (“{reason}”)",
            int(error.hours),
        ).format(hours=f"{error.hours:g}", reason=error.reason)
    return _("Telegram answered “{reason}”").format(reason=error.reason)


def _not_posted(error: Undeliverable, rows: list[CaseMessage]) -> Notice:
    """A buyer's message that could not be posted in the topic: what they wrote, and why."""
    what = "\n".join(
        row.text if row.content_type == "text" else f"[{row.content_type}] {row.text}".strip()
        for row in rows
    )

    def notice() -> tuple[str, InlineKeyboardMarkup | None]:
        text = _(
            "⚠️ A message from the buyer could not be posted here ({why}). "
            "The buyer has been told. They wrote:\n{what}"
        ).format(why=_why(error), what=what)
        return split_text(text, TEXT_LIMIT)[0], None

    return notice


def _not_passed_on() -> tuple[str, InlineKeyboardMarkup | None]:
    return _(
        "⚠️ Sorry, your last message could not be passed on to the support team. "
        "The agents have been told; if it was a file, please send it again in another form."
    ), None


def _queue_note(per_minute: float, backlog: float) -> Notice:
    minutes = max(1, round(backlog / 60))

    def notice() -> tuple[str, InlineKeyboardMarkup | None]:
        return ngettext(
            "⏳ Telegram lets the bot post about {rate} messages a minute in this group, so "
            "new cases and messages are queued: they may take about {minutes} minute to "
            "appear. Nothing is lost.",
            "⏳ Telegram lets the bot post about {rate} messages a minute in this group, so "
            "new cases and messages are queued: they may take about {minutes} minutes to "
            "appear. Nothing is lost.",
            minutes,
        ).format(rate=f"{per_minute:g}", minutes=minutes), None

    return notice
