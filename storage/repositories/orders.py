from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from sqlalchemy import ColumnElement, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Order, User


def owned_by(telegram_id: int, buyer_id: str | None) -> ColumnElement[bool]:
    """Orders of this Telegram user, or of the marketplace buyer they linked."""
    linked = Order.buyer_id == buyer_id if buyer_id else false()
    return or_(Order.buyer_telegram_id == telegram_id, linked)


class OrderRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def of_account(self, order_id: str, telegram_id: int) -> Order | None:
        """The order when it belongs to this Telegram user or to the buyer they linked;
        None when it is unknown or someone else's. For views that start from a case."""
        linked = select(User.buyer_id).where(User.id == telegram_id).scalar_subquery()
        query = select(Order).where(
            Order.order_id == order_id,
            or_(Order.buyer_telegram_id == telegram_id, Order.buyer_id == linked),
        )
        return (await self.session.scalars(query)).first()

    async def find_owned(
        self, order_id: str, telegram_id: int, buyer_id: str | None
    ) -> Order | None:
        query = select(Order).where(Order.order_id == order_id, owned_by(telegram_id, buyer_id))
        return (await self.session.scalars(query)).first()

    async def list_owned(
        self,
        telegram_id: int,
        buyer_id: str | None,
        *,
        statuses: Sequence[str] | None = None,
        offset: int = 0,
        limit: int = 10,
    ) -> Sequence[Order]:
        query = select(Order).where(owned_by(telegram_id, buyer_id))
        if statuses is not None:
            query = query.where(Order.status.in_(statuses))
        query = query.order_by(Order.placed_at.desc(), Order.order_id).offset(offset).limit(limit)
        return (await self.session.scalars(query)).all()

    async def count_owned(
        self, telegram_id: int, buyer_id: str | None, *, statuses: Sequence[str] | None = None
    ) -> int:
        query = select(func.count()).select_from(Order).where(owned_by(telegram_id, buyer_id))
        if statuses is not None:
            query = query.where(Order.status.in_(statuses))
        return int((await self.session.execute(query)).scalar_one())

    async def count_by_status(self, telegram_id: int, buyer_id: str | None) -> dict[str, int]:
        query = (
            select(Order.status, func.count())
            .where(owned_by(telegram_id, buyer_id))
            .group_by(Order.status)
        )
        return {status: int(n) for status, n in (await self.session.execute(query)).all()}

    async def get_many(self, order_ids: Sequence[str]) -> dict[str, Order]:
        """The orders with these numbers that exist, by number."""
        if not order_ids:
            return {}
        query = select(Order).where(Order.order_id.in_(order_ids))
        return {order.order_id: order for order in (await self.session.scalars(query)).all()}

    def add(self, order: Order) -> None:
        self.session.add(order)

    async def flush(self) -> None:
        await self.session.flush()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction: what the block wrote is undone if it raises."""
        async with self.session.begin_nested():
            yield
