"""The SQL of erasing a buyer's personal data; the rules live in `bot.domain.erasure`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, CaseEvent, CaseMessage, FsmRecord, User
from storage.repositories.cases import OPEN_STATUSES


class PrivacyRepository:
    """Finds and blanks personal data; never commits."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def accounts_linked_to(self, buyer_id: str) -> Sequence[int]:
        """Telegram ids of the accounts linked to a marketplace buyer id."""
        query = select(User.id).where(User.buyer_id == buyer_id).order_by(User.id)
        return (await self.session.scalars(query)).all()

    async def cases_of(self, telegram_id: int) -> Sequence[Case]:
        query = select(Case).where(Case.buyer_id == telegram_id).order_by(Case.id)
        return (await self.session.scalars(query)).all()

    async def closed_before(self, edge: datetime) -> Sequence[Case]:
        """Cases finished (resolved or closed) before `edge` and not erased yet."""
        finished = func.coalesce(Case.closed_at, Case.resolved_at)
        query = select(Case).where(
            Case.status.not_in(OPEN_STATUSES),
            Case.erased_at.is_(None),
            finished < edge,
        )
        return (await self.session.scalars(query.order_by(Case.id))).all()

    async def untold(self) -> Sequence[int]:
        """Erased cases whose topic has not been told yet (erased from the CLI)."""
        query = select(Case.id).where(Case.erased_at.is_not(None), Case.erasure_told_at.is_(None))
        return (await self.session.scalars(query.order_by(Case.id))).all()

    async def blank_cases(self, cases: Sequence[Case], now: datetime) -> None:
        """Erase what a case holds about its buyer, keeping its anonymous figures
        (type, locale, status, times and durations, tags, rating, agents' names)."""
        ids = [case.id for case in cases]
        buyers = {case.buyer_id for case in cases if case.buyer_id is not None}
        if not ids:
            return
        # Every text and file of the transcript: agents' replies quote the buyer too.
        await self.session.execute(
            update(CaseMessage)
            .where(CaseMessage.case_id.in_(ids))
            .values(text="", file_id=None, file_unique_id=None, entities=None)
            .execution_options(synchronize_session=False)
        )
        await self.session.execute(
            update(CaseMessage)
            .where(CaseMessage.case_id.in_(ids), CaseMessage.sender != "agent")
            .values(sender_id=None, sender_name=None)
            .execution_options(synchronize_session=False)
        )
        # Nothing is left to relay to a buyer who is no longer known.
        await self.session.execute(
            update(CaseMessage)
            .where(CaseMessage.case_id.in_(ids), CaseMessage.delivery == "pending")
            .values(delivery="failed")
            .execution_options(synchronize_session=False)
        )
        if buyers:
            await self.session.execute(
                update(CaseEvent)
                .where(CaseEvent.case_id.in_(ids), CaseEvent.actor_id.in_(buyers))
                .values(actor_id=None)
                .execution_options(synchronize_session=False)
            )
        for case in cases:
            case.buyer_id = None
            case.order_id = None
            case.reason = ""
            case.rating_comment = None
            case.erased_at = now
        await self.session.flush()

    async def forget_account(self, telegram_id: int) -> bool:
        """Delete the person's account row (name, language, the link to their buyer id)
        and their dialog state kept in SQL. False when there was no account."""
        await self.forget_dialogs(telegram_id)
        user = await self.session.get(User, telegram_id)
        if user is None:
            return False
        await self.session.delete(user)
        await self.session.flush()
        return True

    async def forget_dialogs(self, telegram_id: int) -> None:
        # Keys are fsm:<bot id>:<chat id>:<user id>:<destiny>; a buyer's chat is their id.
        pattern = f"fsm:%:{telegram_id}:{telegram_id}:%"
        await self.session.execute(
            delete(FsmRecord)
            .where(FsmRecord.key.like(pattern))
            .execution_options(synchronize_session=False)
        )

    async def idle_accounts(self, edge: datetime) -> Sequence[int]:
        """Accounts not seen since `edge` that no case points at any more."""
        has_case = exists().where(Case.buyer_id == User.id)
        query = select(User.id).where(User.last_seen < edge, ~has_case)
        return (await self.session.scalars(query.order_by(User.id))).all()
