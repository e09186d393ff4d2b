"""Cases: the conversations that need a person. One service call opens them all."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aiogram.enums import ContentType
from aiogram.types import Message

from bot.calendar import WorkCalendar
from bot.clock import Clock
from bot.config import Settings
from storage.models import Case, CaseEvent, CaseMessage
from storage.repositories.cases import CaseRepository


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


class CaseStatus(StrEnum):
    waiting = "waiting"
    in_progress = "in_progress"
    waiting_buyer = "waiting_buyer"
    resolved = "resolved"
    closed = "closed"


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
    sender_id: int | None = None
    sender_name: str | None = None

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
            for kind in (
                "document",
                "video",
                "voice",
                "audio",
                "animation",
                "sticker",
                "video_note",
            ):
                media = getattr(message, kind)
                if media is not None:
                    file_id, file_unique_id = media.file_id, media.file_unique_id
                    file_size = media.file_size
                    break
        author = message.from_user
        return cls(
            sender=sender,
            text=message.text or message.caption or "",
            content_type=ContentType(message.content_type).value,
            file_id=file_id,
            file_unique_id=file_unique_id,
            file_size=file_size,
            media_group_id=message.media_group_id,
            chat_message_id=message.message_id,
            sender_id=author.id if author else None,
            sender_name=author.first_name if author else None,
        )


@dataclass(frozen=True)
class Opened:
    case: Case
    created: bool
    """False when the buyer already had this case open and the messages were added to it."""


class CaseService:
    def __init__(self, repo: CaseRepository, clock: Clock, settings: Settings) -> None:
        self.repo = repo
        self.clock = clock
        self.settings = settings
        self.calendar = WorkCalendar.from_settings(settings)

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
        existing = await self.repo.find_open(buyer_id, type_, order_id)
        if existing is not None:
            existing.updated_at = now
            await self.add_entries(existing, entries)
            return Opened(existing, created=False)
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
        self.repo.add_event(
            CaseEvent(
                case_id=case.id,
                at=now,
                kind="status",
                from_value=None,
                to_value=CaseStatus.waiting,
                actor_id=buyer_id,
                actor_name="buyer",
            )
        )
        await self.repo.add_tag(case.id, type_)
        await self.add_entries(case, entries)
        return Opened(case, created=True)

    async def add_entries(self, case: Case, entries: list[Entry]) -> list[CaseMessage]:
        now = self.clock.now()
        return [
            await self.repo.add_message(
                CaseMessage(
                    case_id=case.id,
                    at=now,
                    sender=entry.sender,
                    sender_id=entry.sender_id,
                    sender_name=entry.sender_name,
                    content_type=entry.content_type,
                    text=entry.text,
                    file_id=entry.file_id,
                    file_unique_id=entry.file_unique_id,
                    file_size=entry.file_size,
                    media_group_id=entry.media_group_id,
                    chat_message_id=entry.chat_message_id,
                )
            )
            for entry in entries
        ]
