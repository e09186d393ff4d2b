"""Refund: due dates, where the money goes, and the cases a person has to look at."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.emulator.sandbox import Person, Sandbox
from storage.models import Order
from tests.conftest import START
from tests.factories import add_orders, cases_of, only_case, order

TEXT = {
    "en": {
        "menu": "💸 Refund",
        "which": "Which order is the refund about?",
        "issued": "The refund for your order #R1 (Wireless earbuds, RUB\u00a01,990.00) was "
        "issued on 21 November 2026.",
        "card_due": "goes back to your bank card and arrives by 5 December 2026 at the latest. "
        "If it has not arrived by then, ask about this order's refund here again",
        "bonus": "are back on your bonus balance; you can see it in the marketplace's mobile app",
        "overdue": "should have arrived by",
        "case": "Your request number is #1",
        "nothing": "was not paid, so nothing was charged and there is no money to return.",
        "unrecorded": "but I have no record of its refund yet",
        "paid": "is paid and awaiting shipment; no refund has been issued for it.",
        "cancel_it": "Cancel this order",
        "transit": "is on its way, so no money has been paid back for it. If you don't need "
        "it any more, wait for the parcel: you can refuse it when it arrives",
        "what": "is delivered. What is wrong with it?",
        "defective": "It is defective or damaged",
        "not_described": "It is not as described",
        "lost": "I did not receive it",
        "lost_done": "hasn't reached you although it shows as delivered",
        "other": "Something else",
        "tell": "Tell me in one message what is wrong with order #R1.",
        "thanks": "Thank you, I have passed it on.",
        "describe": "Describe the problem in one message",
        "pick": "Please choose what is wrong with the order using the buttons above.",
        "back": "Back",
        "cancelled": "cancelled",
        "refunded": "refunded",
        "mark": "#",
    },
    "ru": {
        "menu": "💸 Возврат денег",
        "which": "По какому заказу вопрос о возврате?",
        "issued": "Возврат за заказ №R1 (Wireless earbuds, 1\xa0990,00\xa0₽) оформлен "
        "21 ноября 2026.",
        "card_due": "возвращаются на вашу банковскую карту и поступят не позднее 5 декабря 2026. "
        "Если к этому дню деньги не придут, спросите здесь о возврате по этому заказу ещё раз",
        "bonus": "вернулись на ваш бонусный счёт; баланс видно в мобильном приложении",
        "overdue": "должен был прийти не позже",
        "case": "Номер вашего обращения — №1",
        "nothing": "не был оплачен: деньги не списывались, возвращать нечего.",
        "unrecorded": "но данных о возврате денег у меня пока нет",
        "paid": "оплачен и ждёт отправки, возврат по нему не оформлялся.",
        "cancel_it": "Отменить этот заказ",
        "transit": "в пути, поэтому деньги за него не возвращались. Если он вам больше не "
        "нужен, дождитесь посылки: от неё можно отказаться при получении",
        "what": "доставлен. Что с ним не так?",
        "defective": "Брак или повреждение",
        "not_described": "Не соответствует описанию",
        "lost": "Заказ до меня не дошёл",
        "lost_done": "не дошёл до вас, хотя числится доставленным",
        "other": "Другое",
        "tell": "Напишите одним сообщением, что не так с заказом №R1.",
        "thanks": "Спасибо, ваше сообщение передано.",
        "describe": "Опишите проблему одним сообщением",
        "pick": "Выберите кнопкой выше, что не так с заказом.",
        "back": "Назад",
        "cancelled": "отменён",
        "refunded": "деньги возвращены",
        "mark": "№",
    },
}

BUYER = 401
PLACED = START - timedelta(days=10)
ISSUED = START - timedelta(days=3)


@pytest.fixture(params=["en", "ru"])
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def ask_refund(sandbox: Sandbox, lang: str, *orders: Order) -> tuple[Person, dict[str, str]]:
    """The buyer opens the refund dialog and types the order number R1."""
    await add_orders(sandbox, *orders)
    t = TEXT[lang]
    anna = sandbox.person(BUYER, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(t["menu"])
    await anna.send("R1")
    return anna, t


async def no_cases(sandbox: Sandbox) -> bool:
    async with sandbox.db() as session:
        return not await cases_of(session, BUYER)


@pytest.mark.parametrize("status", ["cancelled", "refunded"])
async def test_issued_card_refund_gives_the_due_date(
    sandbox: Sandbox, lang: str, status: str
) -> None:
    anna, t = await ask_refund(
        sandbox, lang, order("R1", BUYER, status, placed_at=PLACED, refund_issued_at=ISSUED)
    )
    listing, answer_message = anna.inbox()[-2:]
    assert listing["text"].startswith(t["which"])
    assert anna.buttons(listing)[0] == (f"Wireless earbuds · {t['mark']}R1 · {t[status]}", "o:r:R1")
    answer = answer_message["text"]
    assert answer.startswith(t["issued"])
    assert t["card_due"] in answer
    assert await no_cases(sandbox)


async def test_bonus_refund_is_on_the_balance(sandbox: Sandbox, lang: str) -> None:
    anna, t = await ask_refund(
        sandbox,
        lang,
        order("R1", BUYER, "cancelled", placed_at=PLACED, method="bonus", refund_issued_at=ISSUED),
    )
    assert t["bonus"] in anna.inbox()[-1]["text"]


@pytest.mark.parametrize(
    ("wait", "overdue"),
    [(timedelta(seconds=30), False), (timedelta(minutes=1, seconds=1), True)],
    ids=["day-14-just-before", "day-14-just-after"],
)
async def test_fourteen_day_boundary_opens_a_refund_not_received_case(
    sandbox: Sandbox, clock: ManualClock, lang: str, wait: timedelta, overdue: bool
) -> None:
    issued = START - timedelta(days=14) + timedelta(minutes=1)
    clock.advance(wait)
    anna, t = await ask_refund(
        sandbox, lang, order("R1", BUYER, "cancelled", placed_at=PLACED, refund_issued_at=issued)
    )
    answer = anna.inbox()[-1]["text"]
    if not overdue:
        assert t["card_due"][:25] in answer
        assert await no_cases(sandbox)
        return
    assert t["overdue"] in answer
    assert t["case"] in answer
    case, messages = await only_case(sandbox, BUYER)
    assert (case.type, case.order_id) == ("refund_not_received", "R1")
    assert [m.sender for m in messages] == ["bot"]
    assert "R1" in messages[0].text


async def test_unpaid_order_has_nothing_to_refund(sandbox: Sandbox, lang: str) -> None:
    anna, t = await ask_refund(
        sandbox, lang, order("R1", BUYER, "cancelled", placed_at=PLACED, paid=False)
    )
    assert t["nothing"] in anna.inbox()[-1]["text"]
    assert await no_cases(sandbox)


async def test_missing_refund_record_goes_to_an_agent(sandbox: Sandbox, lang: str) -> None:
    anna, t = await ask_refund(sandbox, lang, order("R1", BUYER, "cancelled", placed_at=PLACED))
    answer = anna.inbox()[-1]["text"]
    assert t["unrecorded"] in answer
    assert t["case"] in answer
    case, messages = await only_case(sandbox, BUYER)
    assert (case.type, case.order_id) == ("refund_check", "R1")
    assert messages


async def test_paid_order_offers_cancellation(sandbox: Sandbox, lang: str) -> None:
    anna, t = await ask_refund(sandbox, lang, order("R1", BUYER, "paid", placed_at=START))
    answer = anna.inbox()[-1]
    assert t["paid"] in answer["text"]
    assert (f"❌ {t['cancel_it']}", "o:c:R1") in anna.buttons(answer)


async def test_shipped_order_has_nothing_to_refund_yet(sandbox: Sandbox, lang: str) -> None:
    anna, t = await ask_refund(sandbox, lang, order("R1", BUYER, "shipped", placed_at=PLACED))
    answer = anna.inbox()[-1]
    assert t["transit"] in answer["text"]
    # Waiting for the parcel is the advice: Back and a person, no dialog to go into.
    assert [data for _, data in anna.buttons(answer)] == ["rf:back:R1", "m:person"]


async def test_delivered_not_received_opens_a_case(sandbox: Sandbox, lang: str) -> None:
    anna, t = await ask_refund(sandbox, lang, order("R1", BUYER, "delivered", placed_at=PLACED))
    assert t["what"] in anna.inbox()[-1]["text"]
    [wrong] = await anna.send("where is my money")
    assert wrong["text"] == t["pick"]
    [done] = await anna.press(t["lost"])
    assert t["lost_done"] in done["text"]
    assert t["case"] in done["text"]
    case, _messages = await only_case(sandbox, BUYER)
    assert (case.type, case.order_id) == ("not_received", "R1")


async def test_delivered_other_reason_in_own_words(sandbox: Sandbox, lang: str) -> None:
    anna, t = await ask_refund(sandbox, lang, order("R1", BUYER, "delivered", placed_at=PLACED))
    [tell] = await anna.press(t["other"])
    assert tell["text"] == t["tell"]
    [back] = await anna.press(t["back"])
    assert t["what"] in back["text"]
    await anna.press(t["other"])
    [done] = await anna.send("The colour is different from the photos")
    assert done["text"].startswith(t["thanks"])
    case, messages = await only_case(sandbox, BUYER)
    assert (case.type, case.order_id, case.reason) == (
        "general",
        "R1",
        "The colour is different from the photos",
    )
    assert messages[0].text == "The colour is different from the photos"


@pytest.mark.parametrize("why", ["defective", "not_described"])
async def test_delivered_defect_goes_to_the_defect_dialog(
    sandbox: Sandbox, lang: str, why: str
) -> None:
    anna, t = await ask_refund(sandbox, lang, order("R1", BUYER, "delivered", placed_at=PLACED))
    [describe] = await anna.press(t[why])
    assert t["describe"] in describe["text"]
    assert "R1" in describe["text"]
