"""Cases: the conversations that need a person. One service call opens them all."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum

from aiogram.enums import ContentType
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.domain.calendar import WorkCalendar
from bot.i18n import N_
from storage.models import Case, CaseEvent, CaseMessage
from storage.repositories.cases import OPEN_STATUSES, CaseRepository
from storage.repositories.orders import OrderRepository

TOPIC_EVENT = "topic"
"""The audit trail's kind for a request of a case's forum topic and its outcome."""
TOPIC_REQUESTED = "requested"
TOPIC_SETTLE_SECONDS = 10
"""A topic request this recent with no outcome stored may be one Telegram has just
carried out: the bot is about to store its id. Older ones were cut short (see the
handoff) and are not waited for."""


class CaseType(StrEnum):
    cancel_review = "cancel_review"
    refund_not_received = "refund_not_received"
    refund_check = "refund_check"
    not_received = "not_received"
    defect = "defect"
    payment = "payment"
    seller_question = "seller_question"
    unknown_order = "unknown_order"
    general = "general"


FILE_KINDS: tuple[ContentType, ...] = (
    ContentType.PHOTO,
    ContentType.DOCUMENT,
    ContentType.VIDEO,
    ContentType.VOICE,
    ContentType.AUDIO,
    ContentType.ANIMATION,
    ContentType.STICKER,
    ContentType.VIDEO_NOTE,
)
"""Messages that carry a file the transcript keeps by file_id (photo first: it has sizes)."""
RELAYED: frozenset[ContentType] = frozenset({ContentType.TEXT, ContentType.LOCATION, *FILE_KINDS})
"""What buyers and agents may send each other through a case; anything else is refused."""


class CaseStatus(StrEnum):
    waiting = "waiting"
    in_progress = "in_progress"
    waiting_buyer = "waiting_buyer"
    resolved = "resolved"
    closed = "closed"


TYPE_LABELS: dict[str, str] = {
    CaseType.cancel_review: N_("Cancellation review"),
    CaseType.refund_not_received: N_("Refund not received"),
    CaseType.refund_check: N_("Refund check"),
    CaseType.not_received: N_("Parcel not received"),
    CaseType.defect: N_("Defective item"),
    CaseType.payment: N_("Payment failure"),
    CaseType.seller_question: N_("Question to the seller"),
    CaseType.unknown_order: N_("Order not found"),
    CaseType.general: N_("General question"),
}

STATUS_LABELS: dict[str, str] = {
    CaseStatus.waiting: N_("waiting for an agent"),
    CaseStatus.in_progress: N_("in progress"),
    CaseStatus.waiting_buyer: N_("waiting for the buyer"),
    CaseStatus.resolved: N_("resolved"),
    CaseStatus.closed: N_("closed"),
}


def case_type_label(type_: str) -> str:
    """A case type as people read it, in the current locale."""
    return _(TYPE_LABELS[type_]) if type_ in TYPE_LABELS else type_


def case_status_label(status: str) -> str:
    """A case status as people read it, in the current locale."""
    return _(STATUS_LABELS[status]) if status in STATUS_LABELS else status


# One-tap tags on the card, by case type (the type itself is always a tag).
USUAL_TAGS: dict[str, tuple[str, ...]] = {
    CaseType.cancel_review: ("out_of_stock", "address_problem", "changed_mind"),
    CaseType.refund_not_received: ("payment_delay", "bank_issue"),
    CaseType.refund_check: ("payment_delay", "refund_missing"),
    CaseType.not_received: ("parcel_lost", "parcel_returned", "address_problem"),
    CaseType.defect: ("damaged_in_transit", "not_as_described", "wrong_item"),
    CaseType.payment: ("card_declined", "payment_delay"),
    CaseType.seller_question: ("item_question", "delivery_time"),
    CaseType.unknown_order: ("order_lookup",),
    CaseType.general: ("address_problem", "account"),
}


class Sender(StrEnum):
    """Who wrote a transcript message."""

    buyer = "buyer"
    agent = "agent"
    note = "note"
    """An agents' internal note: never relayed to the buyer."""


class Delivery(StrEnum):
    """Where a transcript message is on its way to the other side."""

    pending = "pending"
    sending = "sending"
    """The call is in flight; left over only by a crash, then sent again, flagged."""
    sent = "sent"
    failed = "failed"


SYSTEM = "system"
"""The actor name of changes the bot makes by itself (auto-close, reopening on a message)."""


@dataclass(frozen=True)
class Entry:
    """One message of a transcript, as the case keeps it (never the file bytes)."""

    sender: str
    text: str = ""
    content_type: str = "text"
    file_id: str | None = None
    file_unique_id: str | None = None
    file_size: int | None = None
    media_group_id: str | None = None
    chat_message_id: int | None = None
    topic_message_id: int | None = None
    sender_id: int | None = None
    sender_name: str | None = None
    entities: str | None = None
    delivery: str | None = None

    def pending(self) -> Entry:
        """The same entry, marked to be relayed to the other side."""
        return replace(self, delivery=Delivery.pending)

    @classmethod
    def from_message(cls, message: Message, sender: str = "buyer") -> Entry:
        """A buyer's or agent's Telegram message as a transcript entry."""
        file_id = file_unique_id = None
        file_size = None
        if message.photo:
            largest = message.photo[-1]
            file_id, file_unique_id, file_size = (
                largest.file_id,
                largest.file_unique_id,
                largest.file_size,
            )
        else:
            for kind in FILE_KINDS[1:]:
                media = getattr(message, kind.value)
                if media is not None:
                    file_id, file_unique_id = media.file_id, media.file_unique_id
                    file_size = media.file_size
                    break
        author = message.from_user
        entities = message.entities or message.caption_entities
        text = message.text or message.caption or ""
        if message.location is not None:
            text = f"{message.location.latitude},{message.location.longitude}"
        in_topic = sender != Sender.buyer
        return cls(
            sender=sender,
            text=text,
            content_type=ContentType(message.content_type).value,
            file_id=file_id,
            file_unique_id=file_unique_id,
            file_size=file_size,
            media_group_id=message.media_group_id,
            chat_message_id=None if in_topic else message.message_id,
            topic_message_id=message.message_id if in_topic else None,
            sender_id=author.id if author else None,
            sender_name=author.first_name if author else None,
            entities=json.dumps([e.model_dump(exclude_none=True) for e in entities])
            if entities
            else None,
        )


@dataclass(frozen=True)
class Opened:
    case: Case
    created: bool
    """False when the buyer already had this case open and the messages were added to it."""


class CaseService:
    """Every rule about a case's life: opening, who holds it, statuses, timestamps.

    `on_change(case_id)` is called whenever the case's topic side needs bringing up to
    date with Telegram (its topic, its card, the buyer's messages to post there), and
    `on_reply(case_id)` when agents' words wait to be relayed to the buyer; the
    services wire both to the handoff, which does that after the unit of work commits.
    `on_card(case_id)` is called too when something the case's card shows changed
    outside the case's own row (a tag).
    `orders` checks that an order given to `open` is the buyer's own; without it no
    case keeps an order link.
    """

    def __init__(
        self,
        repo: CaseRepository,
        clock: Clock,
        settings: Settings,
        on_change: Callable[[int], None] | None = None,
        orders: OrderRepository | None = None,
        on_card: Callable[[int], None] | None = None,
        on_reply: Callable[[int], None] | None = None,
    ) -> None:
        self.repo = repo
        self.orders = orders
        self.clock = clock
        self.settings = settings
        self.calendar = WorkCalendar.from_settings(settings)
        self.on_change = on_change or (lambda _case_id: None)
        self.on_card = on_card or (lambda _case_id: None)
        self.on_reply = on_reply or (lambda _case_id: None)
        self._of_buyer: dict[int, list[Case]] = {}

    def response_hours(self, type_: str) -> int:
        if type_ == CaseType.cancel_review:
            return self.settings.cancel_review_hours
        return self.settings.response_hours

    async def open(
        self,
        *,
        buyer_id: int,
        type_: CaseType,
        locale: str,
        entries: list[Entry],
        order_id: str | None = None,
        reason: str = "",
    ) -> Opened:
        """Open a case for a person, or add to the one the buyer already has open.

        A buyer has at most one open case of a type for an order: a second request
        goes into the existing case's transcript.
        """
        now = self.clock.now()
        if order_id is not None and not await self._owns(buyer_id, order_id):
            # Someone else's order never becomes a case's order: the number lives on
            # only as the words the buyer typed (reason, transcript).
            order_id = None
        existing = await self.repo.find_open(buyer_id, type_, order_id)
        if existing is not None:
            existing.updated_at = now
            await self.add_entries(existing, [entry.pending() for entry in entries])
            self.on_change(existing.id)
            return Opened(existing, created=False)
        self._of_buyer.pop(buyer_id, None)  # one more case: read them again
        case = await self.repo.add(
            Case(
                buyer_id=buyer_id,
                type=type_,
                order_id=order_id,
                locale=locale,
                status=CaseStatus.waiting,
                reason=reason,
                created_at=now,
                updated_at=now,
                response_due_at=self.calendar.deadline(now, self.response_hours(type_)),
            )
        )
        self._event(case, "status", None, CaseStatus.waiting, buyer_id, "buyer")
        await self.repo.add_tag(case.id, type_)
        await self.add_entries(case, entries)
        self.on_change(case.id)
        return Opened(case, created=True)

    async def _owns(self, buyer_id: int, order_id: str) -> bool:
        if self.orders is None:
            return False
        return await self.orders.of_account(order_id, buyer_id) is not None

    async def add_entries(self, case: Case, entries: list[Entry]) -> None:
        now = self.clock.now()
        await self.repo.add_messages(
            [{"case_id": case.id, "at": now, **vars(entry)} for entry in entries]
        )

    # ------------------------------------------------------------------ finding cases

    async def get(self, case_id: int) -> Case | None:
        return await self.repo.get(case_id)

    async def in_topic(self, chat_id: int, topic_id: int) -> Case | None:
        """The case whose topic this is, in this agents' group."""
        return await self.repo.by_topic(chat_id, topic_id)

    async def for_buyer(self, buyer_id: int) -> list[Case]:
        """The buyer's cases, newest first.

        Read once per unit of work (the service lives as long as its session): the
        flood guard, free text, the relay and the fallback each ask about the same
        buyer's cases on one update. The rows are the session's own, so what the update
        changes in them shows; a case opened through `open` makes the next call read
        them again, and a case erased meanwhile (its buyer_id blanked) is left out.
        """
        if buyer_id not in self._of_buyer:
            self._of_buyer[buyer_id] = list(await self.repo.for_buyer(buyer_id))
        return [case for case in self._of_buyer[buyer_id] if case.buyer_id == buyer_id]

    def known(self, buyer_id: int, cases: list[Case]) -> None:
        """The buyer's cases, newest first, read with their account: `for_buyer` needs no
        query."""
        self._of_buyer.setdefault(buyer_id, cases)

    async def open_for_buyer(self, buyer_id: int) -> list[Case]:
        """The buyer's open cases, the one they wrote to last first."""
        cases = [c for c in await self.for_buyer(buyer_id) if c.status in OPEN_STATUSES]
        return sorted(cases, key=lambda c: (c.updated_at, c.id), reverse=True)

    async def last_finished(self, buyer_id: int) -> tuple[Case | None, bool]:
        """The buyer's newest case when it was resolved, and whether it may still be
        reopened (resolved less than REOPEN_DAYS ago). Cases closed without action
        are not reopened by a message."""
        cases = await self.for_buyer(buyer_id)
        if not cases or cases[0].resolved_at is None or cases[0].status in OPEN_STATUSES:
            return None, False
        window = timedelta(days=self.settings.reopen_days)
        return cases[0], self.clock.now() - cases[0].resolved_at < window

    # ------------------------------------------------------------------ messages

    async def add_buyer_message(self, case: Case, entry: Entry) -> None:
        """A buyer's message for the case's topic; a buyer answering puts it back to agents."""
        case.updated_at = self.clock.now()
        await self.add_entries(case, [entry.pending()])
        if case.status in (CaseStatus.resolved, CaseStatus.closed):
            self._reopen(case, entry.sender_id, SYSTEM)
        elif case.status == CaseStatus.waiting_buyer:
            back = CaseStatus.in_progress if case.assignee_id else CaseStatus.waiting
            self._set_status(case, back, entry.sender_id, SYSTEM)
        self.on_change(case.id)

    async def add_agent_message(self, case: Case, entry: Entry) -> None:
        """An agent's reply for the buyer. Whoever answers an unassigned case takes it.

        Once the buyer's data is erased there is nobody to relay to: kept as a note."""
        if case.buyer_id is None:
            await self.add_note(case, entry)
            return
        case.updated_at = self.clock.now()
        await self.add_entries(case, [entry.pending()])
        self.on_reply(case.id)
        if case.assignee_id is None and entry.sender_id is not None:
            self._assign(case, entry.sender_id, entry.sender_name or "")
            self.on_change(case.id)  # the card shows who holds the case
        if case.status in (CaseStatus.waiting, CaseStatus.in_progress):
            self._set_status(case, CaseStatus.waiting_buyer, entry.sender_id, entry.sender_name)
            self.on_change(case.id)  # and its status

    async def add_note(self, case: Case, entry: Entry) -> None:
        """An internal note: kept in the transcript, never relayed."""
        await self.add_entries(case, [replace(entry, sender=Sender.note, delivery=None)])

    async def edit_message(
        self, case: Case, sender: Sender, message_id: int, text: str, entities: str | None
    ) -> CaseMessage | None:
        """A relayed message was edited; the transcript keeps the latest wording."""
        row = await self.repo.message_by_origin(case.id, sender, message_id)
        if row is None:
            return None
        row.text = text
        row.entities = entities
        row.edited_at = self.clock.now()
        return row

    async def move_message(self, target: Case, buyer_id: int, message_id: int) -> Case | None:
        """The buyer says a message belongs to another of their open cases: it goes
        there (again, if it was already posted). Returns the case it came from."""
        row = await self.repo.buyer_message(buyer_id, message_id)
        if row is None or row.case_id == target.id or target.status not in OPEN_STATUSES:
            return None
        source = await self.repo.get(row.case_id)
        row.case_id = target.id
        row.delivery = Delivery.pending
        row.topic_message_id = None
        target.updated_at = self.clock.now()
        self.on_change(target.id)
        return source

    async def sending(self, rows: list[CaseMessage]) -> None:
        """The rows' call to the other side starts now (a crash during it leaves them so)."""
        await self.repo.mark(rows, delivery=Delivery.sending)

    async def record_delivered(self, case: Case, row: CaseMessage, mirror_id: int) -> None:
        """A message reached the other side; the first agent answer sets the response times."""
        if row.sender == Sender.buyer:
            await self.repo.mark([row], delivery=Delivery.sent, topic_message_id=mirror_id)
            return
        await self.repo.mark([row], delivery=Delivery.sent, chat_message_id=mirror_id)
        if case.first_response_at is None:
            now = self.clock.now()
            case.first_response_at = now
            case.first_response_seconds = int((now - case.created_at).total_seconds())
            case.first_response_work_seconds = self.calendar.work_seconds(case.created_at, now)
            case.responded_in_time = case.response_due_at is None or now <= case.response_due_at

    # ------------------------------------------------------------------ agents' actions

    def take(self, case: Case, agent_id: int, agent_name: str) -> bool:
        """The agent holds the case (taking it over from another agent, visibly)."""
        if case.assignee_id == agent_id:
            return False
        self._assign(case, agent_id, agent_name)
        if case.status == CaseStatus.waiting:
            self._set_status(case, CaseStatus.in_progress, agent_id, agent_name)
        self.on_change(case.id)
        return True

    def release(self, case: Case, agent_id: int, agent_name: str) -> bool:
        if case.assignee_id is None:
            return False
        case.assignee_id = None
        self._event(case, "assign", case.assignee_name, None, agent_id, agent_name)
        case.assignee_name = None
        if case.status == CaseStatus.in_progress:
            self._set_status(case, CaseStatus.waiting, agent_id, agent_name)
        self.on_change(case.id)
        return True

    def resolve(self, case: Case, actor_id: int | None, actor_name: str | None) -> bool:
        """Resolved: the resolution times are written now, for the reports."""
        if case.status not in OPEN_STATUSES:
            return False
        now = self.clock.now()
        self._set_status(case, CaseStatus.resolved, actor_id, actor_name)
        case.resolved_at = now
        case.resolution_seconds = int((now - case.created_at).total_seconds())
        case.resolution_work_seconds = self.calendar.work_seconds(case.created_at, now)
        case.resolver_name = case.assignee_name if actor_name == SYSTEM else actor_name
        self.on_change(case.id)
        return True

    def withdraw(self, case: Case) -> bool:
        """The buyer says it is solved: resolved, credited to whoever held it."""
        if case.status not in OPEN_STATUSES:
            return False
        self.resolve(case, case.buyer_id, SYSTEM)
        return True

    def close(self, case: Case, actor_id: int | None, actor_name: str | None) -> bool:
        """Closed without action (spam, a duplicate) or by waiting too long for the buyer."""
        if case.status not in OPEN_STATUSES:
            return False
        self._set_status(case, CaseStatus.closed, actor_id, actor_name)
        case.closed_at = self.clock.now()
        self.on_change(case.id)
        return True

    def reopen(self, case: Case, actor_id: int | None, actor_name: str | None) -> bool:
        if case.status in OPEN_STATUSES:
            return False
        self._reopen(case, actor_id, actor_name)
        self.on_change(case.id)
        return True

    async def tag(self, case: Case, tag: str) -> bool:
        added = await self.repo.add_tag(case.id, tag)
        if added:
            self.on_card(case.id)
            self.on_change(case.id)
        return added

    def rate(self, case: Case, score: int) -> bool:
        """The buyer's 1-5 rating of a resolved case (a later press changes it)."""
        if case.status != CaseStatus.resolved or not 1 <= score <= 5:
            return False
        case.rating = score
        self.on_change(case.id)
        return True

    def comment(self, case: Case, text: str) -> None:
        case.rating_comment = text
        self.on_change(case.id)

    # ------------------------------------------------------------------ promises

    async def due_for_reminder(self) -> list[Case]:
        """Open cases not answered yet whose deadline is near or passed, not reminded yet."""
        edge = self.clock.now() + timedelta(hours=self.settings.remind_before_hours)
        return list(await self.repo.due_for_reminder(edge))

    async def waited_too_long(self) -> list[Case]:
        """Cases waiting for the buyer for REPLY_WAIT_DAYS: they close themselves."""
        since = self.clock.now() - timedelta(days=self.settings.reply_wait_days)
        return list(await self.repo.waiting_buyer_since(since))

    async def with_pending(self) -> list[int]:
        """Cases with messages still on their way and due now (after a restart, an outage,
        or Telegram refusing for a while)."""
        return list(await self.repo.with_pending(self.clock.now()))

    async def unfinished_topics(self) -> list[int]:
        """Open cases whose topic, card or conversation so far never reached the group."""
        return list(await self.repo.unfinished_topics())

    def auto_close(self, case: Case) -> None:
        """The buyer did not answer: closed, counted as resolved by whoever answered last."""
        self.resolve(case, None, SYSTEM)
        self._set_status(case, CaseStatus.closed, None, SYSTEM)
        case.closed_at = self.clock.now()

    # ------------------------------------------------------------------ audit trail

    def _reopen(self, case: Case, actor_id: int | None, actor_name: str | None) -> None:
        back = CaseStatus.in_progress if case.assignee_id else CaseStatus.waiting
        self._set_status(case, back, actor_id, actor_name)
        case.resolved_at = case.closed_at = None
        case.resolution_seconds = case.resolution_work_seconds = None
        case.resolver_name = None
        case.rating = None
        case.rating_comment = None

    def _set_status(
        self, case: Case, to: CaseStatus, actor_id: int | None, actor_name: str | None
    ) -> None:
        if case.status == to:
            return
        self._event(case, "status", case.status, to, actor_id, actor_name)
        case.status = to
        case.updated_at = self.clock.now()

    async def topic_outcome_unknown(self, case: Case) -> bool:
        """An earlier request for the case's forum topic has no outcome stored: Telegram
        may have made that topic (its answer was lost, or the bot stopped first)."""
        last = await self.repo.last_event(case.id, TOPIC_EVENT)
        return last is not None and last.to_value == TOPIC_REQUESTED

    async def topic_being_made(self) -> bool:
        """A forum topic was asked of Telegram in the last TOPIC_SETTLE_SECONDS and what
        came of it is not stored yet: a message in a topic the bot does not know may be
        in that one."""
        since = self.clock.now() - timedelta(seconds=TOPIC_SETTLE_SECONDS)
        return await self.repo.unanswered_since(TOPIC_EVENT, TOPIC_REQUESTED, since)

    def topic_event(self, case: Case, outcome: str) -> None:
        """A request for the case's topic ("requested"), or its outcome ("created",
        "refused"), in the audit trail."""
        self._event(case, TOPIC_EVENT, None, outcome, None, None)

    def _assign(self, case: Case, agent_id: int, agent_name: str) -> None:
        self._event(case, "assign", case.assignee_name, agent_name, agent_id, agent_name)
        case.assignee_id = agent_id
        case.assignee_name = agent_name

    def _event(
        self,
        case: Case,
        kind: str,
        from_value: str | None,
        to_value: str | None,
        actor_id: int | None,
        actor_name: str | None,
    ) -> None:
        self.repo.add_event(
            CaseEvent(
                case_id=case.id,
                at=self.clock.now(),
                kind=kind,
                from_value=from_value,
                to_value=to_value,
                actor_id=actor_id,
                actor_name=actor_name,
            )
        )
