from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, CaseEvent, CaseMessage, CaseTag

OPEN_STATUSES = ("waiting", "in_progress", "waiting_buyer")


class CaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, case: Case) -> Case:
        self.session.add(case)
        await self.session.flush()
        return case

    async def get(self, case_id: int) -> Case | None:
        return await self.session.get(Case, case_id)

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

    async def for_buyer(self, buyer_id: int, *, open_only: bool = False) -> Sequence[Case]:
        query = select(Case).where(Case.buyer_id == buyer_id)
        if open_only:
            query = query.where(Case.status.in_(OPEN_STATUSES))
        return (await self.session.scalars(query.order_by(Case.id.desc()))).all()

    async def add_message(self, message: CaseMessage) -> CaseMessage:
        self.session.add(message)
        await self.session.flush()
        return message

    async def messages(self, case_id: int) -> Sequence[CaseMessage]:
        query = select(CaseMessage).where(CaseMessage.case_id == case_id).order_by(CaseMessage.id)
        return (await self.session.scalars(query)).all()

    def add_event(self, event: CaseEvent) -> None:
        self.session.add(event)

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
