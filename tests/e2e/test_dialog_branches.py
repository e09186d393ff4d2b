"""The cancel and refund branches not walked in test_buyer_dialogs, over real HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from storage.db import create_engine, create_session_factory
from storage.models import Case, Order
from tests.e2e.harness import LiveBot
from tests.e2e.test_buyer_dialogs import bot_now
from tests.factories import add_orders_at, order

USERS = {"en": 720_000, "ru": 730_000}
TEXT = {
    "en": {
        "cancel": "❌ Cancel an order",
        "refund": "💸 Refund",
        "yes": "Yes, cancel the order",
        "unpaid_done": "It was not paid, so nothing was charged.",
        "bonus_done": "are back on your bonus balance",
        "shipped": "so it can no longer be cancelled",
        "wait": "wait for the parcel: you can refuse it when it arrives",
        "person": "🙋 Talk to a person",
        "not_paid": "was not paid, so nothing was charged and there is no money to return.",
        "no_record": "but I have no record of its refund yet",
        "delivered": "is delivered. What is wrong with it?",
        "lost": "I did not receive it",
        "sorry": "hasn't reached you although it shows as delivered",
        "back": "Back",
    },
    "ru": {
        "cancel": "❌ Отменить заказ",
        "refund": "💸 Возврат денег",
        "yes": "Да, отменить заказ",
        "unpaid_done": "Он не был оплачен, так что ничего не списано.",
        "bonus_done": "вернулись на ваш бонусный счёт",
        "shipped": "поэтому отменить его нельзя",
        "wait": "дождитесь посылки: от неё можно отказаться при получении",
        "person": "🙋 Связаться с сотрудником",
        "not_paid": "не был оплачен: деньги не списывались, возвращать нечего.",
        "no_record": "но данных о возврате денег у меня пока нет",
        "delivered": "доставлен. Что с ним не так?",
        "lost": "Заказ до меня не дошёл",
        "sorry": "не дошёл до вас, хотя числится доставленным",
        "back": "Назад",
    },
}


async def rows(live: LiveBot, buyer: int) -> tuple[dict[str, str], list[tuple[str, str | None]]]:
    """Each of the buyer's orders' status, and their cases (type, order)."""
    engine = create_engine(live.process.env["DATABASE_URL"])
    try:
        async with create_session_factory(engine)() as session:
            orders = (
                await session.scalars(select(Order).where(Order.buyer_telegram_id == buyer))
            ).all()
            cases = (await session.scalars(select(Case).where(Case.buyer_id == buyer))).all()
            return (
                {o.order_id: o.status for o in orders},
                sorted((c.type, c.order_id) for c in cases),
            )
    finally:
        await engine.dispose()


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_cancel_unpaid_bonus_and_shipped(live: LiveBot, lang: str) -> None:
    t, buyer = TEXT[lang], USERS[lang] + 1
    now = bot_now(live)
    await add_orders_at(
        live.process.env["DATABASE_URL"],
        order(f"{buyer}-U", buyer, "unpaid", placed_at=now - timedelta(hours=30), paid=False),
        order(f"{buyer}-B", buyer, "paid", placed_at=now - timedelta(hours=1), method="bonus"),
        order(f"{buyer}-S", buyer, "shipped", placed_at=now - timedelta(days=6)),
    )
    anna = live.person(buyer, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(t["cancel"])
    await anna.press(f"{buyer}-U · ")
    [done] = await anna.press(t["yes"])
    assert t["unpaid_done"] in done["text"]

    await anna.press(t["cancel"])
    await anna.press(f"{buyer}-B · ")
    [done] = await anna.press(t["yes"])
    assert t["bonus_done"] in done["text"]

    await anna.press(t["cancel"])
    [shipped] = await anna.press(f"{buyer}-S · ")
    assert t["shipped"] in shipped["text"]
    # On its way: wait, then refuse or return it; Back and a person are the buttons.
    assert t["wait"] in shipped["text"]
    assert [label for label, _ in anna.buttons(shipped)] == [f"⬅️ {t['back']}", t["person"]]

    statuses, cases = await rows(live, buyer)
    assert statuses == {
        f"{buyer}-U": "cancelled",
        f"{buyer}-B": "cancelled",
        f"{buyer}-S": "shipped",
    }
    assert cases == []


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_refund_unpaid_no_record_and_not_received(live: LiveBot, lang: str) -> None:
    t, buyer = TEXT[lang], USERS[lang] + 2
    now = bot_now(live)
    await add_orders_at(
        live.process.env["DATABASE_URL"],
        order(f"{buyer}-U", buyer, "cancelled", placed_at=now - timedelta(days=3), paid=False),
        order(f"{buyer}-N", buyer, "cancelled", placed_at=now - timedelta(days=4)),
        order(f"{buyer}-D", buyer, "delivered", placed_at=now - timedelta(days=20)),
    )
    anna = live.person(buyer, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(t["refund"])
    [unpaid] = await anna.send(f"{buyer}-U")  # typed, not picked
    assert t["not_paid"] in unpaid["text"]

    await anna.press(t["back"])  # back to the list of orders
    [no_record] = await anna.press(f"{buyer}-N · ")
    assert t["no_record"] in no_record["text"]

    await anna.press(t["refund"])
    [delivered] = await anna.press(f"{buyer}-D · ")
    assert t["delivered"] in delivered["text"]
    [sorry] = await anna.press(t["lost"])
    assert t["sorry"] in sorry["text"]

    _statuses, cases = await rows(live, buyer)
    assert cases == [("not_received", f"{buyer}-D"), ("refund_check", f"{buyer}-N")]
