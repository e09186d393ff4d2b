"""My orders: counts per state with real plural forms, pages, an order's card."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from bot.domain.orders import OrderStatus, PaymentMethod
from bot.emulator.sandbox import Person, Sandbox
from bot.ops.order_import import OrderRecord
from handlers.order_picker import OrderCb, Purpose
from tests.demo import seed, seed_demo


def orders_of(
    sandbox: Sandbox, telegram_id: int, counts: dict[OrderStatus, int]
) -> list[OrderRecord]:
    now = sandbox.clock.now()
    records = []
    for status, n in counts.items():
        for k in range(n):
            paid = status is not OrderStatus.unpaid
            records.append(
                OrderRecord(
                    order_id=f"{status.value[:3].upper()}-{telegram_id}-{k}",
                    buyer_telegram_id=telegram_id,
                    buyer_id=None,
                    status=status,
                    placed_at=now - timedelta(days=len(records) + 1),
                    paid_at=now - timedelta(days=len(records) + 1) if paid else None,
                    payment_method=PaymentMethod.card,
                    amount=Decimal("100"),
                    currency="RUB",
                    title=f"Item {len(records) + 1}",
                )
            )
    return records


async def my_orders(
    sandbox: Sandbox, buyer: int, counts: dict[OrderStatus, int], lang: str
) -> tuple[Person, dict[str, Any]]:
    """A buyer with `counts` orders per state opens My orders; returns the listing."""
    await seed(sandbox, *orders_of(sandbox, buyer, counts))
    anna = sandbox.person(buyer, "Anna", language_code=lang)
    await anna.send("/start")
    [listing] = await anna.press({"en": "My orders", "ru": "Мои заказы"}[lang])
    return anna, listing


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("ru", ["У вас 8 заказов:", "• Не оплачен: 1 заказ", "• Ждёт отправки: 2 заказа",
                "• Доставлен: 5 заказов"]),
        ("en", ["You have 8 orders:", "• Unpaid: 1 order", "• Awaiting shipment: 2 orders",
                "• Delivered: 5 orders"]),
    ],
)  # fmt: skip
async def test_counts_per_state_use_real_plural_forms(
    sandbox: Sandbox, lang: str, expected: list[str]
) -> None:
    counts = {OrderStatus.unpaid: 1, OrderStatus.paid: 2, OrderStatus.delivered: 5}
    _anna, listing = await my_orders(sandbox, 30, counts, lang)
    assert listing["text"].splitlines()[:4] == expected


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", ["You have 5 orders:", "• Awaiting shipment: 1 order", "• On its way: 2 orders",
                "• Awaiting your review: 2 orders",
                "3 orders are active: paid and not with you yet."]),
        ("ru", ["У вас 5 заказов:", "• Ждёт отправки: 1 заказ", "• В пути: 2 заказа",
                "• Ждёт вашего отзыва: 2 заказа", "3 заказа активны: оплачены, но ещё не у вас."]),
    ],
)  # fmt: skip
async def test_awaiting_review_and_active_orders_are_counted(
    sandbox: Sandbox, lang: str, expected: list[str]
) -> None:
    counts = {OrderStatus.paid: 1, OrderStatus.shipped: 2, OrderStatus.awaiting_review: 2}
    anna, listing = await my_orders(sandbox, 41, counts, lang)
    assert listing["text"].splitlines()[:5] == expected
    # Delivered and confirmed: the buyer may ask for a refund or report a defect.
    [shown] = await anna.press(data=OrderCb(purpose=Purpose.view, order_id="AWA-41-0").pack())
    data = [d for _, d in anna.buttons(shown)][:-2]
    assert [OrderCb.unpack(d).purpose for d in data] == [
        Purpose.refund,
        Purpose.defect,
        Purpose.seller,
    ]


async def test_one_order_in_russian(sandbox: Sandbox) -> None:
    await seed(sandbox, *orders_of(sandbox, 31, {OrderStatus.shipped: 1}))
    anna = sandbox.person(31, "Анна", language_code="ru")
    await anna.send("/start")
    [listing] = await anna.press("Мои заказы")
    assert listing["text"].splitlines()[:2] == ["У вас 1 заказ:", "• В пути: 1 заказ"]


async def test_orders_newest_first_page_by_page(sandbox: Sandbox) -> None:
    await seed_demo(sandbox, 32)
    anna = sandbox.person(32, "Anna")
    await anna.send("/start")
    [listing] = await anna.press("My orders")
    assert listing["text"].startswith("You have 13 orders:")
    labels = [label for label, _ in anna.buttons(listing)]
    assert labels[0].startswith("Xiaomi Redmi Buds 4 Lite · #DEMO-32-01 · unpaid")
    assert labels[5:] == ["Page 1 of 3", "Older ▶️", "⬅️ Main menu", "🙋 Talk to a person"]
    seen = labels[:5]
    for page in (2, 3):
        await anna.press("Older ▶️")
        message = sandbox.model.chats[32].messages[listing["message_id"]]
        labels = [label for label, _ in anna.buttons(message)]
        assert f"Page {page} of 3" in labels
        seen += [label for label in labels if "#DEMO-32-" in label]
    assert len(seen) == 13 == len(set(seen))
    # The "Page 3 of 3" button only says where you are: pressing it answers quietly,
    # without trying to edit the list (Telegram refuses an edit that changes nothing).
    assert await anna.press("Page 3 of 3") == []
    assert anna.last_answer == {"text": None, "show_alert": False}


async def test_page_number_in_ask_the_seller_answers_quietly(
    sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    await seed_demo(sandbox, 39)
    anna = sandbox.person(39, "Anna", language_code="ru")
    await anna.send("/start")
    await anna.press("Вопрос продавцу")
    assert await anna.press("Страница 1 из 3") == []
    assert anna.last_answer == {"text": None, "show_alert": False}
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


@pytest.mark.parametrize(
    ("lang", "card", "buttons"),
    [
        ("en", ["🧾 Logitech MX Master 3S", "Order #DEMO-33-04", "Amount: RUB\u00a08,990.00",
                "Status: awaiting shipment", "Placed: 23 November, 17:00 (Moscow Time)",
                "Paid: 23 November, 17:10 (Moscow Time), by bank card"],
         ["❌ Cancel this order", "✉️ Ask the seller", "⬅️ All my orders", "⬅️ Main menu"]),
        ("ru", ["🧾 Logitech MX Master 3S", "Заказ №DEMO-33-04", "Сумма: 8\u00a0990,00\u00a0₽",
                "Статус: ждёт отправки", "Оформлен: 23 ноября, 17:00 (Москва)",
                "Оплачен: 23 ноября, 17:10 (Москва), банковской картой"],
         ["❌ Отменить этот заказ", "✉️ Вопрос продавцу", "⬅️ Все мои заказы", "⬅️ Главное меню"]),
    ],
)  # fmt: skip
async def test_order_card_shows_details_in_the_buyers_locale_and_the_operators_zone(
    sandbox: Sandbox, lang: str, card: list[str], buttons: list[str]
) -> None:
    await seed_demo(sandbox, 33)
    anna = sandbox.person(33, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press({"en": "My orders", "ru": "Мои заказы"}[lang])
    [shown] = await anna.press("Logitech")
    assert shown["text"].splitlines() == card
    assert [label for label, _ in anna.buttons(shown)] == buttons
    data = [d for _, d in anna.buttons(shown)]
    assert OrderCb.unpack(data[0]) == OrderCb(purpose=Purpose.cancel, order_id="DEMO-33-04")


async def test_each_state_offers_the_dialogs_that_apply(sandbox: Sandbox) -> None:
    await seed_demo(sandbox, 34)
    anna = sandbox.person(34, "Anna")
    await anna.send("/start")
    expected = {
        "DEMO-34-01": [Purpose.cancel, "m:payment", Purpose.seller],  # unpaid
        "DEMO-34-06": [Purpose.defect, Purpose.seller],  # shipped
        "DEMO-34-07": [Purpose.refund, Purpose.defect, Purpose.seller],  # delivered
        "DEMO-34-10": [Purpose.refund, Purpose.seller],  # refunded
        "DEMO-34-13": [Purpose.seller],  # cancelled before it was paid
    }
    for order_id, actions in expected.items():
        [shown] = await anna.press(data=OrderCb(purpose=Purpose.view, order_id=order_id).pack())
        data = [d for _, d in anna.buttons(shown)][:-2]
        assert [d if d.startswith("m:") else OrderCb.unpack(d).purpose for d in data] == actions, (
            order_id
        )
        assert all(OrderCb.unpack(d).order_id == order_id for d in data if d.startswith("o:"))


async def test_only_an_order_with_a_refund_offers_where_is_my_refund(sandbox: Sandbox) -> None:
    await seed_demo(sandbox, 40)
    anna = sandbox.person(40, "Anna")
    await anna.send("/start")
    labels = {}
    for order_id in ("DEMO-40-07", "DEMO-40-09"):  # delivered; cancelled, refund issued
        [shown] = await anna.press(data=OrderCb(purpose=Purpose.view, order_id=order_id).pack())
        labels[order_id] = [label for label, _ in anna.buttons(shown)]
    # A delivered order has no refund to look for: the buyer can ask for one.
    assert "💸 Ask for a refund" in labels["DEMO-40-07"]
    assert "💸 Where is my refund" not in labels["DEMO-40-07"]
    assert "💸 Where is my refund" in labels["DEMO-40-09"]


async def test_refund_card_shows_the_issue_date(sandbox: Sandbox) -> None:
    await seed_demo(sandbox, 35)
    anna = sandbox.person(35, "Анна", language_code="ru")
    await anna.send("/start")
    [shown] = await anna.press(data=OrderCb(purpose=Purpose.view, order_id="DEMO-35-09").pack())
    assert "Возврат оформлен: 21 ноября 2026" in shown["text"]


async def test_someone_elses_order_is_not_shown(sandbox: Sandbox) -> None:
    await seed_demo(sandbox, 36)
    mallory = sandbox.person(37, "Mallory", language_code="ru")
    await mallory.send("/start")
    replies = await mallory.press(data=OrderCb(purpose=Purpose.view, order_id="DEMO-36-01").pack())
    assert replies == []
    assert mallory.last_answer == {
        "text": "Не нахожу такого заказа среди ваших.",
        "show_alert": True,
    }


@pytest.mark.parametrize(
    ("lang", "text"),
    [("en", "I can't see any orders of yours yet."), ("ru", "Пока я не вижу ваших заказов.")],
)
async def test_no_orders_says_how_to_connect_an_account(
    sandbox: Sandbox, lang: str, text: str
) -> None:
    anna = sandbox.person(38, "Anna", language_code=lang)
    await anna.send("/start")
    [reply] = await anna.press({"en": "My orders", "ru": "Мои заказы"}[lang])
    assert reply["text"].startswith(text)
