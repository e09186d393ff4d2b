"""Orders and photos for dialog tests, stored the way the bot's order source reads them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.emulator.sandbox import Sandbox
from storage.db import create_engine, create_session_factory
from storage.models import Case, CaseMessage, Order
from storage.repositories.orders import OrderRepository

# Tiny JPEG-looking bytes: the model stores whatever a person uploads.
PHOTO = b"\xff\xd8\xff\xe0fake-jpeg"


def order(
    order_id: str,
    buyer: int,
    status: str,
    *,
    placed_at: datetime,
    paid: bool = True,
    method: str = "card",
    refund_issued_at: datetime | None = None,
    title: str = "Wireless earbuds",
) -> Order:
    return Order(
        order_id=order_id,
        buyer_telegram_id=buyer,
        status=status,
        placed_at=placed_at,
        paid_at=placed_at + timedelta(minutes=5) if paid else None,
        payment_method=method,
        amount=Decimal("1990.00"),
        currency="RUB",
        title=title,
        refund_issued_at=refund_issued_at,
    )


async def _save(session: AsyncSession, orders: tuple[Order, ...]) -> None:
    repo = OrderRepository(session)
    for item in orders:
        repo.add(item)
    await session.commit()


async def add_orders(sandbox: Sandbox, *orders: Order) -> None:
    async with sandbox.db() as session:
        await _save(session, orders)


async def add_orders_at(database_url: str, *orders: Order) -> None:
    """Orders in the database of a bot that runs in another process."""
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            await _save(session, orders)
    finally:
        await engine.dispose()


async def stored_order(sandbox: Sandbox, order_id: str) -> Order:
    async with sandbox.db() as session:
        found = await session.get(Order, order_id)
    assert found is not None
    return found


async def cases_of(session: AsyncSession, buyer: int) -> list[Case]:
    return list((await session.scalars(select(Case).where(Case.buyer_id == buyer))).all())


async def transcript(session: AsyncSession, case_id: int) -> list[CaseMessage]:
    query = select(CaseMessage).where(CaseMessage.case_id == case_id).order_by(CaseMessage.id)
    return list((await session.scalars(query)).all())


async def only_case(sandbox: Sandbox, buyer: int) -> tuple[Case, list[CaseMessage]]:
    """The one case this buyer has, with its transcript."""
    async with sandbox.db() as session:
        [case] = await cases_of(session, buyer)
        return case, await transcript(session, case.id)
