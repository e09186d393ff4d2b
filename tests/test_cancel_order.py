"""Cancel an order: each branch of the rules, in both languages, with what is recorded."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.clock import ManualClock
from bot.emulator.sandbox import Person, Sandbox
from tests.conftest import START
from tests.factories import add_orders, only_case, order, stored_order

TEXT = {
    "en": {
        "menu": "❌ Cancel an order",
        "which": "Which order do you want to cancel?",
        "unpaid_ask": "It has not been paid, so nothing will be charged.",
        "undo": "A cancellation cannot be undone.",
        "yes": "Yes, cancel the order",
        "unpaid_done": "Done: order #A1 is cancelled. It was not paid, so nothing was charged.",
        "instant_ask": "Until 24 November, {time} (Moscow Time) a paid order is cancelled at once",
        "instant_done": "Done: order #A1 is cancelled and the refund is issued.",
        "card": "usually reaches your bank card within minutes, and at the latest by "
        "8 December 2026.",
        "wallet": "usually reaches your e-wallet within minutes",
        "bonus": "are back on your bonus balance; you can see it in the marketplace's mobile app",
        "review_ask": "was placed too long ago to be cancelled at once",
        "within": "within 24 hours, counting working days only",
        "request": "Request a cancellation",
        "why": "Why do you want to cancel order #A1?",
        "ran_out": "The time for an instant cancellation has just run out.",
        "reason": "I changed my mind",
        "requested": "Your request to cancel order #A1 is with the support team.",
        "case": "Your request number is #1",
        "deadline": "by 25 November, 13:00 (Moscow Time) at the latest",
        "shipped": "so it can no longer be cancelled",
        "refund": "💸 Ask for a refund",
        "wait": "wait for the parcel: you can refuse it when it arrives",
        "return": "If you don't need it, ask for a refund: you can return the item.",
        "weighty": "only for a weighty reason",
        "registered": "is registered",
        "defect": "Defective or damaged item",
        "describe": "Describe the problem in one message",
        "closed": "is already cancelled; there is nothing left to cancel.",
        "buttons": "Please use the buttons above",
        "not_found": "I can't find order #{n} among your orders.",
        "ask_support": "Ask support about #B7",
        "tell": "Tell me in one message what you need with order #B7",
        "back": "Back",
        "person": "Talk to a person",
        "person_prompt": "Tell me in one message what you need",
        "stale": "This button no longer works.",
        "not_number": "Please type the order number",
        "reason_expected": "Please choose a reason above or write it in words.",
    },
    "ru": {
        "menu": "❌ Отменить заказ",
        "which": "Какой заказ отменить?",
        "unpaid_ask": "Он не оплачен, поэтому ничего списано не будет.",
        "undo": "Отменённый заказ восстановить не получится.",
        "yes": "Да, отменить заказ",
        "unpaid_done": "Готово: заказ №A1 отменён. Он не был оплачен, так что ничего не списано.",
        "instant_ask": "До 24 ноября, {time} (Москва) оплаченный заказ отменяется сразу",
        "instant_done": "Готово: заказ №A1 отменён, возврат денег оформлен.",
        "card": "обычно приходят на банковскую карту за несколько минут, но не позже "
        "8 декабря 2026.",
        "wallet": "обычно приходят на электронный кошелёк за несколько минут",
        "bonus": "вернулись на ваш бонусный счёт; баланс видно в мобильном приложении",
        "review_ask": "оформлен слишком давно, чтобы отменить его сразу",
        "within": "в течение 24 часов (считаются только рабочие дни)",
        "request": "Запросить отмену",
        "why": "Почему вы хотите отменить заказ №A1?",
        "ran_out": "Срок мгновенной отмены только что истёк.",
        "reason": "Товар больше не нужен",
        "requested": "Запрос на отмену заказа №A1 передан в поддержку.",
        "case": "Номер вашего обращения — №1",
        "deadline": "не позднее 25 ноября, 13:00 (Москва)",
        "shipped": "поэтому отменить его нельзя",
        "refund": "💸 Вернуть деньги",
        "wait": "дождитесь посылки: от неё можно отказаться при получении",
        "return": "Если товар не нужен, оформите возврат денег: товар можно вернуть.",
        "weighty": "только по веской причине",
        "registered": "зарегистрировано",
        "defect": "Брак или повреждение",
        "describe": "Опишите проблему одним сообщением",
        "closed": "«отменён». Отменять здесь нечего.",
        "buttons": "Воспользуйтесь кнопками выше",
        "not_found": "Не нахожу заказ №{n} среди ваших заказов.",
        "ask_support": "Написать в поддержку о заказе №B7",
        "tell": "Напишите одним сообщением, что нужно сделать с заказом №B7",
        "back": "Назад",
        "person": "Связаться с сотрудником",
        "person_prompt": "Расскажите одним сообщением, что вам нужно",
        "stale": "Эта кнопка больше не работает.",
        "not_number": "Напишите номер заказа",
        "reason_expected": "Выберите причину выше или опишите её словами.",
    },
}

STICKER = {"file_id": "S1", "file_unique_id": "U1", "type": "regular", "width": 512,
           "height": 512, "is_animated": False, "is_video": False}  # fmt: skip
BUYER = 301
STRANGER = 302


@pytest.fixture(params=["en", "ru"])
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def open_cancel(
    sandbox: Sandbox, lang: str, order_id: str = "A1"
) -> tuple[Person, dict[str, str]]:
    """The buyer opens the cancel dialog and picks the order from the list."""
    t = TEXT[lang]
    anna = sandbox.person(BUYER, "Anna", language_code=lang)
    await anna.send("/start")
    [listing] = await anna.press(t["menu"])
    assert listing["text"].startswith(t["which"])
    await anna.press(f"{order_id} · ")
    return anna, t


async def test_unpaid_order_is_cancelled_with_nothing_charged(sandbox: Sandbox, lang: str) -> None:
    await add_orders(
        sandbox, order("A1", BUYER, "unpaid", placed_at=START - timedelta(days=2), paid=False)
    )
    anna, t = await open_cancel(sandbox, lang)
    ask = anna.inbox()[-1]["text"]
    assert t["unpaid_ask"] in ask
    assert t["undo"] in ask
    assert (await stored_order(sandbox, "A1")).status == "unpaid"  # nothing before the confirmation
    [done] = await anna.press(t["yes"])
    assert done["text"] == t["unpaid_done"]
    cancelled = await stored_order(sandbox, "A1")
    assert (cancelled.status, cancelled.refund_issued_at) == ("cancelled", None)


@pytest.mark.parametrize("method", ["card", "wallet", "bonus"])
async def test_paid_order_within_the_window_is_cancelled_and_refunded_at_once(
    sandbox: Sandbox, lang: str, method: str
) -> None:
    await add_orders(
        sandbox, order("A1", BUYER, "paid", placed_at=START - timedelta(hours=3), method=method)
    )
    anna, t = await open_cancel(sandbox, lang)
    assert t["instant_ask"].format(time="18:00") in anna.inbox()[-1]["text"]
    [done] = await anna.press(t["yes"])
    assert done["text"].startswith(t["instant_done"])
    assert t[method] in done["text"]
    cancelled = await stored_order(sandbox, "A1")
    assert (cancelled.status, cancelled.refund_issued_at) == ("cancelled", START)


@pytest.mark.parametrize(
    ("wait", "instant"),
    [(timedelta(seconds=59), True), (timedelta(minutes=1, seconds=1), False)],
    ids=["just-before-8h", "just-after-8h"],
)
async def test_the_eight_hour_window_is_checked_when_the_buyer_confirms(
    sandbox: Sandbox, clock: ManualClock, lang: str, wait: timedelta, instant: bool
) -> None:
    # Placed 7 h 59 min ago: the confirmation still offers an instant cancellation.
    await add_orders(
        sandbox, order("A1", BUYER, "paid", placed_at=START - timedelta(hours=7, minutes=59))
    )
    anna, t = await open_cancel(sandbox, lang)
    assert t["instant_ask"].format(time="13:01") in anna.inbox()[-1]["text"]
    clock.advance(wait)
    [answer] = await anna.press(t["yes"])
    stored = await stored_order(sandbox, "A1")
    if instant:
        assert answer["text"].startswith(t["instant_done"])
        assert stored.status == "cancelled"
    else:
        assert answer["text"].startswith(t["ran_out"])
        assert t["why"] in answer["text"]
        assert (stored.status, stored.refund_issued_at) == ("paid", None)


async def test_late_cancellation_becomes_a_review_case_with_the_chosen_reason(
    sandbox: Sandbox, lang: str
) -> None:
    await add_orders(sandbox, order("A1", BUYER, "paid", placed_at=START - timedelta(hours=9)))
    anna, t = await open_cancel(sandbox, lang)
    ask = anna.inbox()[-1]["text"]
    assert t["review_ask"] in ask
    assert t["within"] in ask
    [why] = await anna.press(t["request"])
    assert why["text"].startswith(t["why"])
    # Before picking, the buyer learns that only a weighty reason can stop the order.
    assert t["weighty"] in why["text"]
    [done] = await anna.press(t["reason"])
    assert done["text"].startswith(t["requested"])
    assert t["case"] in done["text"]
    assert t["deadline"] in done["text"]
    assert t["registered"] not in done["text"]  # one confirmation, not two
    case, messages = await only_case(sandbox, BUYER)
    assert (case.type, case.order_id, case.reason) == ("cancel_review", "A1", "I changed my mind")
    assert [(m.sender, m.text) for m in messages] == [("buyer", t["reason"])]
    assert (await stored_order(sandbox, "A1")).status == "paid"  # an agent decides


async def test_late_cancellation_reason_in_the_buyers_own_words(
    sandbox: Sandbox, lang: str
) -> None:
    await add_orders(sandbox, order("A1", BUYER, "paid", placed_at=START - timedelta(days=1)))
    anna, t = await open_cancel(sandbox, lang)
    await anna.press(t["request"])
    [wrong] = await anna.send(extra={"sticker": STICKER})
    assert wrong["text"].startswith(t["reason_expected"])
    [done] = await anna.send("The seller changed the delivery date to January")
    assert done["text"].startswith(t["requested"])
    case, messages = await only_case(sandbox, BUYER)
    assert case.reason == "The seller changed the delivery date to January"
    assert messages[0].text == "The seller changed the delivery date to January"
    assert messages[0].chat_message_id is not None


@pytest.mark.parametrize("status", ["shipped", "delivered"])
async def test_shipped_order_cannot_be_cancelled_and_leads_to_refund_or_defect(
    sandbox: Sandbox, lang: str, status: str
) -> None:
    await add_orders(sandbox, order("A1", BUYER, status, placed_at=START - timedelta(days=5)))
    t = TEXT[lang]
    anna = sandbox.person(BUYER, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(t["menu"])
    [answer] = await anna.send("A1")  # typed, since delivered orders are not in the list
    assert t["shipped"] in answer["text"]
    labels = dict(anna.buttons(answer))
    assert {t["back"], t["person"]} <= {label.split(" ", 1)[1] for label in labels}
    if status == "shipped":
        # On its way: wait for it, then refuse or return it; nothing to open meanwhile.
        assert t["wait"] in answer["text"]
        assert len(labels) == 2
        return
    assert t["return"] in answer["text"]
    assert labels[t["refund"]] == "o:r:A1"
    [describe] = await anna.press(t["defect"])
    assert t["describe"] in describe["text"]


async def test_already_cancelled_order(sandbox: Sandbox, lang: str) -> None:
    await add_orders(
        sandbox,
        order(
            "A1", BUYER, "cancelled", placed_at=START - timedelta(days=5), refund_issued_at=START
        ),
    )
    t = TEXT[lang]
    anna = sandbox.person(BUYER, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(t["menu"])
    [answer] = await anna.send("№A1")
    assert t["closed"] in answer["text"]


async def test_a_strangers_order_gets_the_same_answer_as_a_missing_one(
    sandbox: Sandbox, lang: str
) -> None:
    await add_orders(
        sandbox,
        order("A1", BUYER, "paid", placed_at=START - timedelta(hours=1)),
        order("B7", STRANGER, "paid", placed_at=START - timedelta(hours=1)),
    )
    t = TEXT[lang]
    anna = sandbox.person(BUYER, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(t["menu"])
    [stranger] = await anna.send("B7")
    [missing] = await anna.send("B8")
    assert stranger["text"].startswith(t["not_found"].format(n="B7"))
    assert stranger["text"] == missing["text"].replace("B8", "B7")
    assert anna.buttons(stranger) == [
        (label.replace("B8", "B7"), data.replace("B8", "B7"))
        for label, data in anna.buttons(missing)
    ]
    [not_a_number] = await anna.send("please cancel my earbuds order")
    assert not_a_number["text"].startswith(t["not_number"])
    # The offer: a case about the number exactly as typed.
    [(offer, data), _menu] = anna.buttons(stranger)
    assert offer.endswith(t["ask_support"])
    await anna.press(data=data)
    assert anna.inbox()[-1]["text"].startswith(t["tell"])
    await anna.send("I paid for it yesterday, it is not in my list")
    case, messages = await only_case(sandbox, BUYER)
    # Someone else's number is kept as the words typed, never as a link to their order.
    assert (case.type, case.order_id) == ("unknown_order", None)
    assert "B7" in case.reason
    assert messages[-1].text == "I paid for it yesterday, it is not in my list"
    assert "B7" in messages[0].text  # the note for the agent
    assert (await stored_order(sandbox, "B7")).status == "paid"


async def test_tampered_order_button_cannot_touch_someone_elses_order(
    sandbox: Sandbox, lang: str
) -> None:
    await add_orders(sandbox, order("B7", STRANGER, "paid", placed_at=START - timedelta(hours=1)))
    t = TEXT[lang]
    anna = sandbox.person(BUYER, "Anna", language_code=lang)
    await anna.send("/start")
    [answer] = await anna.press(data="o:c:B7")
    assert answer["text"].startswith(t["not_found"].format(n="B7"))
    [still] = await anna.press(data="cn:ok:B7")
    assert anna.last_answer is not None
    assert anna.last_answer["text"] == t["stale"]
    assert still["text"]  # the fallback shows the menu again
    assert (await stored_order(sandbox, "B7")).status == "paid"


async def test_back_wrong_input_and_a_way_to_a_person_at_the_confirmation(
    sandbox: Sandbox, lang: str
) -> None:
    await add_orders(sandbox, order("A1", BUYER, "unpaid", placed_at=START, paid=False))
    anna, t = await open_cancel(sandbox, lang)
    [wrong] = await anna.send("yes")
    assert wrong["text"].startswith(t["buttons"])
    [listing] = await anna.press(t["back"])
    assert listing["text"].startswith(t["which"])
    await anna.press("A1 · ")
    [person] = await anna.press(t["person"])
    assert person["text"].startswith(t["person_prompt"])
    assert (await stored_order(sandbox, "A1")).status == "unpaid"


async def test_a_person_asked_for_at_the_late_cancel_reason_keeps_the_review_promise(
    sandbox: Sandbox, lang: str
) -> None:
    await add_orders(sandbox, order("A1", BUYER, "paid", placed_at=START - timedelta(hours=9)))
    anna, t = await open_cancel(sandbox, lang)
    await anna.press(t["request"])
    [prompt] = await anna.press(t["person"])
    assert prompt["text"].startswith(t["person_prompt"])
    [opened] = await anna.send("The address is wrong, I already told the seller")
    # The dialog's own request: a cancellation review, answered within 24 working hours.
    assert t["deadline"] in opened["text"]
    case, messages = await only_case(sandbox, BUYER)
    assert (case.type, case.order_id) == ("cancel_review", "A1")
    assert [m.sender for m in messages] == ["bot", "buyer"]
    assert messages[1].text == "The address is wrong, I already told the seller"
