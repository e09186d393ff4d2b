"""Cancel, refund and defect over real HTTP and long polling, in both languages."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from storage.db import create_engine, create_session_factory
from storage.models import Case, CaseMessage
from tests.e2e.harness import LiveBot
from tests.factories import PHOTO, add_orders_at, order

TEXT = {
    "en": {
        "cancel": "❌ Cancel an order",
        "refund": "💸 Refund",
        "defect": "📦 Defective or damaged item",
        "yes": "Yes, cancel the order",
        "cancelled": "is cancelled and the refund is issued.",
        "card": "usually reaches your bank card within minutes",
        "request": "Request a cancellation",
        "reason": "Delivery takes too long",
        "requested": "is with the support team.",
        "due": "goes back to your bank card and arrives by",
        "overdue": "should have arrived by",
        "describe": "Describe the problem in one message",
        "photos": "Now send photos of the packaging and of the defect",
        "five": "5 photos received.",
        "done": "Done",
        "send": "Send the claim",
        "sent": "and its photos are with the support team.",
        "not_found": "I can't find order #{n} among your orders.",
        "back": "Back",
    },
    "ru": {
        "cancel": "❌ Отменить заказ",
        "refund": "💸 Возврат денег",
        "defect": "📦 Брак или повреждение",
        "yes": "Да, отменить заказ",
        "cancelled": "отменён, возврат денег оформлен.",
        "card": "обычно приходят на банковскую карту за несколько минут",
        "request": "Запросить отмену",
        "reason": "Слишком долгая доставка",
        "requested": "передан в поддержку.",
        "due": "возвращаются на вашу банковскую карту и поступят не позднее",
        "overdue": "должен был прийти не позже",
        "describe": "Опишите проблему одним сообщением",
        "photos": "Теперь пришлите фотографии упаковки и дефекта",
        "five": "Получено 5 фотографий.",
        "done": "Готово",
        "send": "Отправить претензию",
        "sent": "вместе с фотографиями передана в поддержку.",
        "not_found": "Не нахожу заказ №{n} среди ваших заказов.",
        "back": "Назад",
    },
}
USERS = {"en": 700_000, "ru": 710_000}


def bot_now(live: LiveBot) -> datetime:
    """The bot's wall clock, which other tests may have moved forward."""
    return datetime.now(UTC) + live.process.shifted


async def cases_with_messages(live: LiveBot, buyer: int) -> list[tuple[Case, list[CaseMessage]]]:
    engine = create_engine(live.process.env["DATABASE_URL"])
    try:
        async with create_session_factory(engine)() as session:
            cases = (await session.scalars(select(Case).where(Case.buyer_id == buyer))).all()
            found = []
            for case in cases:
                query = select(CaseMessage).where(CaseMessage.case_id == case.id)
                found.append(
                    (case, list((await session.scalars(query.order_by(CaseMessage.id))).all()))
                )
            return found
    finally:
        await engine.dispose()


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_cancel_at_once_and_by_review(live: LiveBot, lang: str) -> None:
    t, buyer = TEXT[lang], USERS[lang] + 1
    now = bot_now(live)
    await add_orders_at(
        live.process.env["DATABASE_URL"],
        order(f"{buyer}-1", buyer, "paid", placed_at=now - timedelta(hours=1)),
        order(f"{buyer}-2", buyer, "paid", placed_at=now - timedelta(hours=30)),
        order(f"{buyer}-3", USERS[lang] + 99, "paid", placed_at=now),
    )
    anna = live.person(buyer, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(t["cancel"])
    [stranger] = await anna.send(f"{USERS[lang] + 99}-3")
    assert stranger["text"].startswith(t["not_found"].format(n=f"{USERS[lang] + 99}-3"))
    await anna.send(f"{buyer}-1")  # typed: the same dialog goes on
    [done] = await anna.press(t["yes"])
    assert t["cancelled"] in done["text"]
    assert t["card"] in done["text"]

    await anna.press(t["cancel"])
    await anna.press(f"{buyer}-2 · ")
    await anna.press(t["request"])
    [requested] = await anna.press(t["reason"])
    assert t["requested"] in requested["text"]
    [(case, messages)] = await cases_with_messages(live, buyer)
    assert (case.type, case.order_id) == ("cancel_review", f"{buyer}-2")
    assert messages[0].text == t["reason"]


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_refund_due_date_and_overdue_case(live: LiveBot, lang: str) -> None:
    t, buyer = TEXT[lang], USERS[lang] + 2
    now = bot_now(live)
    await add_orders_at(
        live.process.env["DATABASE_URL"],
        order(f"{buyer}-1", buyer, "cancelled", placed_at=now - timedelta(days=5),
              refund_issued_at=now - timedelta(days=4)),
        order(f"{buyer}-2", buyer, "refunded", placed_at=now - timedelta(days=30),
              refund_issued_at=now - timedelta(days=15)),
    )  # fmt: skip
    anna = live.person(buyer, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(t["refund"])
    [due] = await anna.press(f"{buyer}-1 · ")
    assert t["due"] in due["text"]
    await anna.press(t["back"])
    [overdue] = await anna.press(f"{buyer}-2 · ")
    assert t["overdue"] in overdue["text"]
    [(case, _messages)] = await cases_with_messages(live, buyer)
    assert (case.type, case.order_id) == ("refund_not_received", f"{buyer}-2")


def album_in_one_batch(live: LiveBot, user_id: int, size: int) -> list[dict[str, Any]]:
    """Queue every part before the bot's next getUpdates can return: one batch, shuffled."""
    parts = [
        live.model.send_message(user_id, photo=PHOTO + bytes([n]), media_group_id=f"g{user_id}",
                                queue=False)
        for n in range(size)
    ]  # fmt: skip
    random.Random(user_id).shuffle(parts)  # noqa: S311 - test input order, not secrets
    # No await in between: the long poll cannot wake up until all parts are queued.
    for part in parts:
        live.model.queue_update({"message": part})
    return parts


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_defect_claim_with_an_album_through_real_polling(live: LiveBot, lang: str) -> None:
    t, buyer = TEXT[lang], USERS[lang] + 3
    await add_orders_at(
        live.process.env["DATABASE_URL"],
        order(f"{buyer}-1", buyer, "delivered", placed_at=bot_now(live) - timedelta(days=9)),
    )
    anna = live.person(buyer, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(t["defect"])
    [describe] = await anna.press(f"{buyer}-1 · ")
    assert t["describe"] in describe["text"]
    [photos] = await anna.send("Broken hinge / сломана петля")
    assert photos["text"].startswith(t["photos"])

    album_in_one_batch(live, buyer, 5)
    await live.settle(lambda: any(m["text"].startswith(t["five"]) for m in anna.inbox()))
    progress = [m for m in anna.inbox() if m["message_id"] > photos["message_id"]]
    assert len(progress) == 1
    await anna.press(t["done"])
    [sent] = await anna.press(t["send"])
    assert t["sent"] in sent["text"]
    [(case, messages)] = await cases_with_messages(live, buyer)
    assert (case.type, case.order_id) == ("defect", f"{buyer}-1")
    photos_kept = [m for m in messages if m.content_type == "photo"]
    assert len(photos_kept) == 5
    assert all(m.file_id and m.file_unique_id for m in photos_kept)
