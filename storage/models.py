"""Tables. Typed columns and a naming convention keep migrations stable."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    false,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from storage.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class User(Base):
    """A person who wrote to the bot in private."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    first_name: Mapped[str] = mapped_column(String(128), default="")
    language_code: Mapped[str | None] = mapped_column(String(16))
    locale: Mapped[str | None] = mapped_column(String(8))
    buyer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)


class UsedLink(Base):
    """A buyer deep link that was opened: it binds the first account that opened it.

    Keyed by the link's signature, so the token itself is not kept; the row can go
    once the link has expired (`expires_at`), as the link is refused from then on.
    """

    __tablename__ = "used_links"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class FsmRecord(Base):
    """Dialog state of one chat and user, for the SQL FSM storage."""

    __tablename__ = "fsm_states"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[str] = mapped_column(Text, default="{}")


class Order(Base):
    """A marketplace order as imported or fetched for the bot."""

    __tablename__ = "orders"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    buyer_telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    buyer_id: Mapped[str | None] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(16))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_method: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3))
    title: Mapped[str] = mapped_column(String(255))
    refund_issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


REPORT_SEGMENTS = ("locale", "type", "agent_chat_id", "resolver_name", "assignee_name")
REPORT_MEASURES = (
    "first_response_seconds",
    "first_response_work_seconds",
    "resolution_seconds",
    "resolution_work_seconds",
)


class Case(Base):
    """A conversation that needs a person. Its id is the number shown to the buyer."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # NULL once the buyer's data was erased: the case stays only as anonymous figures.
    buyer_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("users.id"), index=True)
    type: Mapped[str] = mapped_column(String(32))
    order_id: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    first_response_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Durations are computed once, when the timestamp is written, so reports only aggregate.
    first_response_seconds: Mapped[int | None] = mapped_column(Integer)
    first_response_work_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_work_seconds: Mapped[int | None] = mapped_column(Integer)
    responded_in_time: Mapped[bool | None] = mapped_column()
    agent_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    topic_id: Mapped[int | None] = mapped_column(Integer)
    card_message_id: Mapped[int | None] = mapped_column(Integer)
    # The conversation so far was posted under the card; a topic made (again) without it
    # gets it on the next scheduler round.
    history_posted: Mapped[bool] = mapped_column(default=False, server_default=true())
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    assignee_name: Mapped[str | None] = mapped_column(String(128))
    resolver_name: Mapped[str | None] = mapped_column(String(128))
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the buyer's personal data in this case was erased (/forget_me or retention)."""
    erasure_told_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """When the case's topic was told of the erasure (the CLI leaves it to the bot)."""

    __table_args__ = (
        Index("ix_cases_buyer_open", "buyer_id", "type", "order_id", "status"),
        Index("ix_cases_topic", "agent_chat_id", "topic_id"),
        # The report reads a period from this index alone, never the wide rows.
        Index("ix_cases_report", "created_at", *REPORT_SEGMENTS, *REPORT_MEASURES,
              "responded_in_time", "rating"),
        # Medians walk each measure in order and skip to the middle, without a sort.
        *(
            Index(f"ix_cases_median_{name}", measure, "created_at", *REPORT_SEGMENTS)
            for name, measure in zip(
                ("response", "response_work", "resolution", "resolution_work"),
                REPORT_MEASURES,
                strict=True,
            )
        ),
    )  # fmt: skip


class CaseTag(Base):
    __tablename__ = "case_tags"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


class Tag(Base):
    """A tag's one-line description in each language, shown in reports."""

    __tablename__ = "tags"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    description_en: Mapped[str] = mapped_column(Text, default="")
    description_ru: Mapped[str] = mapped_column(Text, default="")


class CaseEvent(Base):
    """Audit trail: every status change and assignment, and each request for the
    case's forum topic with its outcome (kind "topic": requested, created, refused)."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # Indexed for the report: "open at the end of a period" reads the moves after it.
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    from_value: Mapped[str | None] = mapped_column(String(128))
    to_value: Mapped[str | None] = mapped_column(String(128))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_name: Mapped[str | None] = mapped_column(String(128))


class CaseMessage(Base):
    """Transcript: every message in a case. Attachments keep Telegram's file ids only."""

    __tablename__ = "case_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    sender: Mapped[str] = mapped_column(String(8))
    sender_id: Mapped[int | None] = mapped_column(BigInteger)
    sender_name: Mapped[str | None] = mapped_column(String(128))
    content_type: Mapped[str] = mapped_column(String(32), default="text")
    text: Mapped[str] = mapped_column(Text, default="")
    file_id: Mapped[str | None] = mapped_column(String(255))
    file_unique_id: Mapped[str | None] = mapped_column(String(128))
    file_size: Mapped[int | None] = mapped_column(Integer)
    media_group_id: Mapped[str | None] = mapped_column(String(64))
    chat_message_id: Mapped[int | None] = mapped_column(Integer)
    topic_message_id: Mapped[int | None] = mapped_column(Integer)
    edited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Formatting of the text or caption (Telegram's MessageEntity list as JSON), so a
    # relayed copy looks like the original.
    entities: Mapped[str | None] = mapped_column(Text)
    # The transcript is the relay's outbox: "pending" rows still have to reach the other
    # side, "sending" while the call is in flight (left over only by a crash), then "sent"
    # or "failed"; NULL for history that needs no relaying (notes, the dialog's messages
    # shown on the case card).
    delivery: Mapped[str | None] = mapped_column(String(8))
    # Transient refusals so far, and when the scheduler tries again.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An earlier attempt may have arrived (its response was lost): the copy that lands is
    # flagged "may appear twice".
    maybe_twice: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (Index("ix_case_messages_pending", "case_id", "delivery"),)


class InboxUpdate(Base):
    """A Telegram update as it arrived, kept until it is handled.

    Stored before Telegram is told it arrived (the next getUpdates offset, or the
    webhook's 200), and marked done in the same transaction as what handling it
    changed. Once done, the payload is dropped (it holds what a person wrote) and
    the row stays a few days only so that a redelivered update_id is recognised.
    """

    __tablename__ = "inbox"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    payload: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    chat_key: Mapped[str | None] = mapped_column(String(48))
    """Whose updates go in order (`bot.inbox.chat_key`): with several processes, the
    one that takes a chat handles every update of it stored by any of them."""

    __table_args__ = (Index("ix_inbox_chat_key", "chat_key", "update_id"),)


class IntentFlow(Base):
    """A request a buyer typed in their own words and then confirmed with a tap (or that
    the bot answered from the order data). It counts as resolved without an agent when
    no case of theirs was opened before `settles_at`."""

    __tablename__ = "intent_flows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[int] = mapped_column(BigInteger)
    intent: Mapped[str] = mapped_column(String(16))
    locale: Mapped[str] = mapped_column(String(8))
    order_id: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    settles_at: Mapped[datetime] = mapped_column(UTCDateTime)
