"""Over HTTP against the real bot: My orders, payment failure, ask the seller, card guard."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.ops.order_demo import create_demo_orders
from bot.ops.order_import import OrderImporter
from storage.db import create_engine, create_session_factory
from storage.models import Case, CaseMessage
from storage.repositories.orders import OrderRepository
from tests.e2e.harness import LiveBot


async def seed_demo(live: LiveBot, telegram_id: int) -> None:
    engine = create_engine(live.process.env["DATABASE_URL"])
    async with create_session_factory(engine)() as session:
        await create_demo_orders(
            OrderImporter(OrderRepository(session)), telegram_id, datetime.now(UTC)
        )
        await session.commit()
    await engine.dispose()


async def case_of(live: LiveBot, buyer_id: int) -> tuple[Case, list[str]]:
    engine = create_engine(live.process.env["DATABASE_URL"])
    async with create_session_factory(engine)() as session:
        case = (await session.scalars(select(Case).where(Case.buyer_id == buyer_id))).one()
        texts = (
            await session.scalars(select(CaseMessage.text).where(CaseMessage.case_id == case.id))
        ).all()
    await engine.dispose()
    return case, list(texts)


@pytest.mark.parametrize(
    ("user_id", "lang", "menu", "summary", "older", "number"),
    [(800_001, "ru", "Мои заказы", "У вас 13 заказов:", "Более ранние ▶️", "Заказ №"),
     (800_002, "en", "My orders", "You have 13 orders:", "Older ▶️", "Order #")],
)  # fmt: skip
async def test_my_orders_over_http(
    live: LiveBot, user_id: int, lang: str, menu: str, summary: str, older: str, number: str
) -> None:
    await seed_demo(live, user_id)
    buyer = live.person(user_id, "Anna", language_code=lang)
    await buyer.send("/start")
    [listing] = await buyer.press(menu)
    assert listing["text"].startswith(summary)
    [turned] = await buyer.press(older)
    assert any(f"DEMO-{user_id}-09" in label for label, _ in buyer.buttons(turned))
    [card] = await buyer.press("JBL Go 3")
    assert card["text"].startswith(f"🧾 JBL Go 3\n{number}DEMO-{user_id}-09")


@pytest.mark.parametrize(
    ("user_id", "lang", "t"),
    [(800_003, "ru", ["Проблема с оплатой", "Оплата нового заказа", "Не то, следующая причина",
                      "Ничего не подходит", "Всё равно не проходит", "Ваше обращение №"]),
     (800_004, "en", ["Payment problem", "Paying for a new order", "Not this, next cause",
                      "None of these", "It still fails", "Your request #"])],
)  # fmt: skip
async def test_payment_still_failing_opens_a_case(
    live: LiveBot, user_id: int, lang: str, t: list[str]
) -> None:
    buyer = live.person(user_id, "Anna", language_code=lang)
    await buyer.send("/start")
    menu, new, next_cause, none, failing, opened = t
    await buyer.press(menu)
    await buyer.press(new)
    for _ in range(4):
        await buyer.press(next_cause)
    await buyer.press(none)
    await buyer.press(failing)
    [reply] = await buyer.send("Error 05 from the bank, order 123")
    assert reply["text"].startswith(opened)
    case, texts = await case_of(live, user_id)
    assert (case.type, case.locale) == ("payment", lang)
    assert texts == ["Error 05 from the bank, order 123"]


@pytest.mark.parametrize(
    ("user_id", "lang", "menu", "passed_on", "warning"),
    [(800_005, "ru", "Вопрос продавцу", "Поддержка передаст ваш вопрос продавцу",
      "⚠️ Пожалуйста, никогда не присылайте номер карты"),
     (800_006, "en", "Ask the seller", "Support will pass your question to the seller",
      "⚠️ Please never send your card number")],
)  # fmt: skip
async def test_seller_question_with_a_card_number_is_masked(
    live: LiveBot, user_id: int, lang: str, menu: str, passed_on: str, warning: str
) -> None:
    await seed_demo(live, user_id)
    buyer = live.person(user_id, "Anna", language_code=lang)
    await buyer.send("/start")
    await buyer.press(menu)
    await buyer.send(f"DEMO-{user_id}-09")  # typed instead of picked
    first, second = await buyer.send("Refund to 4111 1111 1111 1111 please?", expect=2)
    assert first["text"].startswith(warning)
    assert second["text"].startswith(passed_on)
    case, texts = await case_of(live, user_id)
    assert (case.type, case.order_id) == ("seller_question", f"DEMO-{user_id}-09")
    assert texts == ["Refund to •••• •••• •••• 1111 please?"]
    mine = [m for m in live.model.messages(user_id) if m["from"]["id"] == user_id]
    assert [m.get("text") for m in mine] == ["/start", f"DEMO-{user_id}-09"]
    assert "4111 1111 1111 1111" not in live.process.log()
