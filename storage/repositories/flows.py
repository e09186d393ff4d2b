"""Requests typed in free text, and how many of them ended without a case."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Case, IntentFlow


@dataclass(frozen=True)
class DeflectionRow:
    intent: str
    settled: int
    """Confirmed requests whose window has passed."""
    without_case: int
    """Of those, the ones after which the buyer opened no case within the window."""


class IntentFlowRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def start(
        self,
        *,
        buyer_id: int,
        intent: str,
        locale: str,
        order_id: str | None,
        at: datetime,
        window: timedelta,
    ) -> None:
        """Record a typed request the buyer confirmed; it settles after `window`."""
        self.session.add(
            IntentFlow(
                buyer_id=buyer_id,
                intent=intent,
                locale=locale,
                order_id=order_id,
                started_at=at,
                settles_at=at + window,
            )
        )

    async def deflection(
        self, start: datetime, end: datetime, now: datetime
    ) -> list[DeflectionRow]:
        """Per intent, requests started in [start, end) and settled by `now`, and how
        many of them were followed by no case of the buyer's before they settled."""
        followed = exists().where(
            and_(
                Case.buyer_id == IntentFlow.buyer_id,
                Case.created_at >= IntentFlow.started_at,
                Case.created_at < IntentFlow.settles_at,
            )
        )
        rows = await self.session.execute(
            select(
                IntentFlow.intent,
                func.count(),
                func.sum(case((followed, 0), else_=1)),
            )
            .where(
                IntentFlow.started_at >= start,
                IntentFlow.started_at < end,
                IntentFlow.settles_at <= now,
            )
            .group_by(IntentFlow.intent)
            .order_by(func.count().desc(), IntentFlow.intent)
        )
        return [DeflectionRow(intent, settled, without) for intent, settled, without in rows]
