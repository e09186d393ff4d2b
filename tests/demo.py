"""Orders for sandbox tests: the demo set, as `supportbot orders demo` makes it."""

from __future__ import annotations

from bot.emulator.sandbox import Sandbox
from bot.ops.order_demo import create_demo_orders
from bot.ops.order_import import ImportReport, OrderImporter, OrderRecord
from storage.repositories.orders import OrderRepository


async def seed_demo(sandbox: Sandbox, telegram_id: int) -> None:
    async with sandbox.db() as session:
        importer = OrderImporter(OrderRepository(session))
        await create_demo_orders(importer, telegram_id, sandbox.clock.now())
        await session.commit()


async def seed(sandbox: Sandbox, *records: OrderRecord) -> None:
    async with sandbox.db() as session:
        await OrderImporter(OrderRepository(session)).upsert(records, ImportReport())
        await session.commit()
