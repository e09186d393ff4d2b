"""Over HTTP against the real bot: typed requests understood, confirmed, then acted on."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from storage.db import create_engine, create_session_factory
from storage.models import IntentFlow, Order
from tests.e2e.harness import LiveBot
from tests.e2e.test_orders_payment_seller import seed_demo


async def stored(live: LiveBot, order_id: str) -> tuple[str, list[str]]:
    """The order's status and the typed requests its buyer confirmed."""
    engine = create_engine(live.process.env["DATABASE_URL"])
    async with create_session_factory(engine)() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        intents = (
            await session.scalars(
                select(IntentFlow.intent).where(IntentFlow.buyer_id == order.buyer_telegram_id)
            )
        ).all()
    await engine.dispose()
    return order.status, list(intents)


@pytest.mark.parametrize(
    ("user_id", "lang", "t"),
    [(960_001, "ru", ["otmenite zakaz DEMO-960001-01 pls",
                      "Отменить заказ №DEMO-960001-01 (Xiaomi Redmi Buds 4 Lite)?", "Да",
                      "Отменить заказ №DEMO-960001-01 (Xiaomi Redmi Buds 4 Lite, ",
                      "Да, отменить заказ",
                      "Готово: заказ №DEMO-960001-01 отменён"]),
     (960_002, "en", ["PLEASE CANCEL ORDER DEMO-960002-01!!!",
                      "Cancel order #DEMO-960002-01 (Xiaomi Redmi Buds 4 Lite)?", "Yes",
                      "Cancel your order #DEMO-960002-01", "Yes, cancel the order",
                      "Done: order #DEMO-960002-01 is cancelled"])],
)  # fmt: skip
async def test_typed_cancel_over_http(live: LiveBot, user_id: int, lang: str, t: list[str]) -> None:
    typed, question, yes, dialog, confirm, done = t
    await seed_demo(live, user_id)
    buyer = live.person(user_id, "Anna", language_code=lang)
    [offer] = await buyer.send(typed)
    assert offer["text"] == question
    assert await stored(live, f"DEMO-{user_id}-01") == ("unpaid", [])
    [step] = await buyer.press(yes)
    assert step["text"].startswith(dialog)
    [finished] = await buyer.press(confirm)
    assert finished["text"].startswith(done)
    assert await stored(live, f"DEMO-{user_id}-01") == ("cancelled", ["cancel"])
