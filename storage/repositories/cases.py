from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Table,
    Update,
    and_,
    bindparam,
    exists,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value

from storage.models import Case, CaseEvent, CaseMessage, CaseTag

OPEN_STATUSES = ("waiting", "in_progress", "waiting_buyer")

# The queries of every update and every relay, built once with their values as bound
# parameters: SQLAlchemy then finds their compiled form without rebuilding the
# statement and its cache key on each call (about 50 µs a query).
_FOR_BUYER = select(Case).where(Case.buyer_id == bindparam("buyer_id")).order_by(Case.id.desc())
_BY_ID = select(Case).where(Case.id == bindparam("id"))
_BY_TOPIC = (
    select(Case)
    .where(Case.agent_chat_id == bindparam("chat_id"), Case.topic_id == bindparam("topic_id"))
    .limit(1)
)
_UNSENT = and_(
    CaseMessage.delivery.in_(("pending", "sending")), CaseMessage.sender == bindparam("sender")
)
_PENDING = (
    select(CaseMessage)
    .where(CaseMessage.case_id == bindparam("case_id"), _UNSENT)
    .order_by(CaseMessage.id)
)
_WITH_UNSENT = (
    select(Case, CaseMessage)
    .outerjoin(CaseMessage, and_(CaseMessage.case_id == Case.id, _UNSENT))
    .where(Case.id == bindparam("case_id"))
    .order_by(CaseMessage.id)
)

# Transcript rows are written with Core statements, not through the ORM's flush: its
# unit-of-work machinery cost a relay more than the statements themselves (a new row,
# then its "sending" and "sent" marks).
_MESSAGES: Table = CaseMessage.__table__  # type: ignore[assignment]
_ADD_MESSAGES = insert(_MESSAGES)
_MARKS: dict[tuple[str, ...], Update] = {}


def _mark(names: tuple[str, ...]) -> Update:
    """UPDATE of these columns for the rows `ids`, built once per set of columns."""
    statement = _MARKS.get(names)
    if statement is None:
        statement = _MARKS[names] = (
            update(_MESSAGES)
            .where(_MESSAGES.c.id.in_(bindparam("ids", expanding=True)))
            .values({name: bindparam(f"new_{name}") for name in names})
        )
    return statement


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, case: Case) -> Case:
        self.session.add(case)
        await self.session.flush()
        return case

    async def get(self, case_id: int) -> Case | None:
        """As `session.get`: the session's own copy when it holds one, whole; otherwise
        one query (`session.get` builds its SELECT anew on every call)."""
        known = self.session.identity_map.get(self.session.identity_key(Case, case_id))
        if isinstance(known, Case) and not inspect(known).expired_attributes:
            return known
        return (await self.session.scalars(_BY_ID, {"id": case_id})).first()

    async def find_open(self, buyer_id: int, type_: str, order_id: str | None) -> Case | None:
        query = select(Case).where(
            Case.buyer_id == buyer_id,
            Case.type == type_,
            Case.status.in_(OPEN_STATUSES),
        )
        query = query.where(
            Case.order_id.is_(None) if order_id is None else Case.order_id == order_id
        )
        return (await self.session.scalars(query.limit(1))).first()

    async def for_buyer(self, buyer_id: int) -> Sequence[Case]:
        """The buyer's cases, newest first."""
        return (await self.session.scalars(_FOR_BUYER, {"buyer_id": buyer_id})).all()

    async def add_messages(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """New transcript rows (column values), in one INSERT."""
        await self.session.execute(_ADD_MESSAGES, list(rows))

    async def mark(self, rows: Sequence[CaseMessage], **values: Any) -> None:
        """Write these values to the rows now, in one UPDATE; the row objects get them as
        if they had been read, so the ORM has nothing to flush for them."""
        names = tuple(sorted(values))
        params = {"ids": [row.id for row in rows], **{f"new_{n}": values[n] for n in names}}
        await self.session.execute(_mark(names), params)
        for row in rows:
            for name, value in values.items():
                set_committed_value(row, name, value)

    async def messages(self, case_id: int) -> Sequence[CaseMessage]:
        query = select(CaseMessage).where(CaseMessage.case_id == case_id).order_by(CaseMessage.id)
        return (await self.session.scalars(query)).all()

    async def by_topic(self, chat_id: int, topic_id: int) -> Case | None:
        params = {"chat_id": chat_id, "topic_id": topic_id}
        return (await self.session.scalars(_BY_TOPIC, params)).first()

    async def pending(self, case_id: int, sender: str) -> Sequence[CaseMessage]:
        """Messages of one side still to be relayed, oldest first: pending, or left
        "sending" by a process that stopped during the call."""
        params = {"case_id": case_id, "sender": sender}
        return (await self.session.scalars(_PENDING, params)).all()

    async def with_unsent(
        self, case_id: int, sender: str
    ) -> tuple[Case | None, Sequence[CaseMessage]]:
        """The case and its `pending` messages of one side, in one query (a relay's
        delivery starts with both)."""
        rows = (
            await self.session.execute(_WITH_UNSENT, {"case_id": case_id, "sender": sender})
        ).all()
        if not rows:
            return None, []
        return rows[0][0], [row for _case, row in rows if row is not None]

    async def message_by_origin(
        self, case_id: int, sender: str, message_id: int
    ) -> CaseMessage | None:
        """A relayed message by its id where it was written (buyer's chat or the topic)."""
        origin = CaseMessage.chat_message_id if sender == "buyer" else CaseMessage.topic_message_id
        query = select(CaseMessage).where(
            CaseMessage.case_id == case_id, CaseMessage.sender == sender, origin == message_id
        )
        return (await self.session.scalars(query.limit(1))).first()

    async def buyer_message(self, buyer_id: int, message_id: int) -> CaseMessage | None:
        """A buyer's relayed message by its id in their chat, in any of their cases."""
        query = (
            select(CaseMessage)
            .join(Case, Case.id == CaseMessage.case_id)
            .where(
                Case.buyer_id == buyer_id,
                CaseMessage.sender == "buyer",
                CaseMessage.chat_message_id == message_id,
            )
        )
        return (await self.session.scalars(query.limit(1))).first()

    async def due_for_reminder(self, edge: datetime) -> Sequence[Case]:
        query = select(Case).where(
            Case.status.in_(OPEN_STATUSES),
            Case.first_response_at.is_(None),
            Case.reminded_at.is_(None),
            Case.response_due_at <= edge,
        )
        return (await self.session.scalars(query.order_by(Case.id))).all()

    async def waiting_buyer_since(self, since: datetime) -> Sequence[Case]:
        query = select(Case).where(Case.status == "waiting_buyer", Case.updated_at <= since)
        return (await self.session.scalars(query.order_by(Case.id))).all()

    async def unfinished_topics(self) -> Sequence[int]:
        """Open cases whose topic, card or conversation so far has not reached the group."""
        query = select(Case.id).where(
            Case.status.in_(OPEN_STATUSES),
            or_(
                Case.topic_id.is_(None),
                Case.card_message_id.is_(None),
                Case.history_posted.is_(False),
            ),
        )
        return (await self.session.scalars(query.order_by(Case.id))).all()

    async def highest_message_id(self) -> int:
        """The highest Telegram message id the cases refer to (a topic, a card, a relayed
        message), 0 when there is none."""
        highest = [
            await self.session.scalar(select(func.max(column)))
            for column in (
                Case.topic_id,
                Case.card_message_id,
                CaseMessage.chat_message_id,
                CaseMessage.topic_message_id,
            )
        ]
        return max((value for value in highest if value is not None), default=0)

    async def with_pending(self, now: datetime) -> Sequence[int]:
        """Cases with messages to relay that are due (new, or their backoff is over), or
        left "sending" by a process that stopped during the call."""
        query = (
            select(CaseMessage.case_id)
            .where(
                or_(
                    CaseMessage.delivery == "sending",
                    and_(
                        CaseMessage.delivery == "pending",
                        or_(CaseMessage.retry_at.is_(None), CaseMessage.retry_at <= now),
                    ),
                )
            )
            .distinct()
        )
        return (await self.session.scalars(query)).all()

    def add_event(self, event: CaseEvent) -> None:
        self.session.add(event)

    async def last_event(self, case_id: int, kind: str) -> CaseEvent | None:
        query = (
            select(CaseEvent)
            .where(CaseEvent.case_id == case_id, CaseEvent.kind == kind)
            .order_by(CaseEvent.id.desc())
            .limit(1)
        )
        return (await self.session.scalars(query)).first()

    async def unanswered_since(self, kind: str, request: str, since: datetime) -> bool:
        """Whether an event `kind` with the value `request`, newer than `since`, has no
        later event of its kind for its case (a request whose outcome is not stored)."""
        later = aliased(CaseEvent)
        answered = exists().where(
            later.case_id == CaseEvent.case_id, later.kind == kind, later.id > CaseEvent.id
        )
        query = select(CaseEvent.id).where(
            CaseEvent.at > since,  # the index on `at`: only the last moments are read
            CaseEvent.kind == kind,
            CaseEvent.to_value == request,
            ~answered,
        )
        return await self.session.scalar(query.limit(1)) is not None

    async def events(self, case_id: int) -> Sequence[CaseEvent]:
        query = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        return (await self.session.scalars(query)).all()

    async def tags(self, case_id: int) -> list[str]:
        query = select(CaseTag.tag).where(CaseTag.case_id == case_id).order_by(CaseTag.tag)
        return list((await self.session.scalars(query)).all())

    async def add_tag(self, case_id: int, tag: str) -> bool:
        """Tag a case; False when it already carried the tag."""
        if await self.session.get(CaseTag, (case_id, tag)) is not None:
            return False
        self.session.add(CaseTag(case_id=case_id, tag=tag))
        return True
