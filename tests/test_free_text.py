"""Buyers who type instead of tapping, through the real dispatcher, in both languages."""

from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.emulator.sandbox import Sandbox
from bot.i18n import create_i18n
from bot.reports.render import render
from bot.reports.service import ReportService, period_between
from storage.models import Case, CaseMessage, IntentFlow, Order
from storage.repositories.reports import Segment
from tests.demo import seed_demo

EN = {
    "cancel": "I want to cancel order DEMO-{id}-02",
    "confirm": "Cancel order #DEMO-{id}-02 (Anker PowerCore 10000)?",
    "yes": "Yes",
    "no": "No, show the menu",
    "dialog": "Cancel your order #DEMO-{id}-02",
    "stranger": "cancel order DEMO-{other}-02",
    "unknown": "cancel order DEMO-999-02",
    "not_mine": "I can't find order #DEMO-{other}-02 among your orders.",
    "ask_any": "Cancel one of your orders?",
    "where": "where is my order DEMO-{id}-06??",
    "where_says": "Order #DEMO-{id}-06 (Baseus GaN 65W charger): on its way",
    "person": "Talk to a person",
    "unsure": "money",
    "unsure_says": "I'm not quite sure what you mean.",
    "guess": "Find out about a refund?",
    "hello": "hello 👋",
    "hello_says": "Hello, Anna! What can I help with?",
    "thanks": "thanks a lot!",
    "thanks_says": "You're welcome!",
    "payment": "my card was declined",
    "payment_says": "Sort out a payment that failed?",
    "payment_dialog": "Sorry the payment didn't go through.",
    "menu": "Cancel an order",
    "dialog_order": "Which order do you want to cancel?",
    "in_dialog_person": "talk to a person please",
    "offer_person": "Do you want to talk to a person?",
    "open_case_text": "cancel order DEMO-{id}-02 please",
    "relayed": "I passed your message to request #1.",
    "waiting": "Thanks, I'll be waiting",
    "report": "| Cancel an order | 2 | 1 | 50.0% |",
    "report_title": "Requests resolved without an agent",
}
RU = {
    "cancel": "хочу отменить заказ DEMO-{id}-02",
    "confirm": "Отменить заказ №DEMO-{id}-02 (Anker PowerCore 10000)?",
    "yes": "Да",
    "no": "Нет, показать меню",
    "dialog": "Отменить заказ №DEMO-{id}-02 (Anker PowerCore 10000, ",
    "stranger": "отмените заказ DEMO-{other}-02",
    "unknown": "отмените заказ DEMO-999-02",
    "not_mine": "Не нахожу заказ №DEMO-{other}-02 среди ваших заказов.",
    "ask_any": "Отменить один из ваших заказов?",
    "where": "ГДЕ МОЙ ЗАКАЗ DEMO-{id}-06",
    "where_says": "Заказ №DEMO-{id}-06 (Baseus GaN 65W charger): в пути",
    "person": "Связаться с сотрудником",
    "unsure": "деньги",
    "unsure_says": "Не совсем понятно, о чём речь.",
    "guess": "Узнать о возврате денег?",
    "hello": "привееет",
    "hello_says": "Здравствуйте, Anna! Чем могу помочь?",
    "thanks": "спс",
    "thanks_says": "Пожалуйста!",
    "payment": "oplata ne prohodit",
    "payment_says": "Разобраться с неудавшейся оплатой?",
    "payment_dialog": "Жаль, что оплата не прошла.",
    "menu": "Отменить заказ",
    "dialog_order": "Какой заказ отменить?",
    "in_dialog_person": "позовите оператора",
    "offer_person": "Хотите связаться с сотрудником поддержки?",
    "open_case_text": "отмените заказ DEMO-{id}-02",
    "relayed": "Ваше сообщение добавлено в обращение №1.",
    "waiting": "Спасибо, буду ждать",
    "report": "| Отмена заказа | 2 | 1 | 50,0% |",
    "report_title": "Запросы, решённые без участия сотрудника",
}  # fmt: skip
LANGS = pytest.mark.parametrize(("lang", "t"), [("en", EN), ("ru", RU)])


async def order_status(sandbox: Sandbox, order_id: str) -> str:
    async with sandbox.db() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        return order.status


async def flows(sandbox: Sandbox) -> list[tuple[str, str | None]]:
    async with sandbox.db() as session:
        rows = (await session.scalars(select(IntentFlow).order_by(IntentFlow.id))).all()
        return [(row.intent, row.order_id) for row in rows]


@LANGS
async def test_typed_cancel_is_confirmed_then_enters_the_dialog(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    await seed_demo(sandbox, 960_001)
    buyer = sandbox.person(960_001, "Anna", language_code=lang)
    [offer] = await buyer.send(t["cancel"].format(id=960_001))
    assert offer["text"] == t["confirm"].format(id=960_001)
    labels = [label for label, _data in buyer.buttons(offer)]
    assert labels[0].endswith(t["yes"])
    assert labels[1] == t["no"]
    # Nothing happens before the tap.
    assert await order_status(sandbox, "DEMO-960001-02") == "paid"
    assert await flows(sandbox) == []
    [step] = await buyer.press(t["yes"])
    assert step["text"].startswith(t["dialog"].format(id=960_001))
    assert await order_status(sandbox, "DEMO-960001-02") == "paid"
    assert await flows(sandbox) == [("cancel", "DEMO-960001-02")]


@LANGS
async def test_after_a_dialog_times_out_a_clear_sentence_is_understood(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    await seed_demo(sandbox, 960_004)
    buyer = sandbox.person(960_004, "Anna", language_code=lang)
    await buyer.send("/start")
    for step in (t["menu"], t["person"]):  # an order list; a free-text step
        await buyer.press(step)
        sandbox.clock.advance(timedelta(hours=25))
        over, offer = await buyer.send(t["cancel"].format(id=960_004))
        assert over["text"].endswith({"en": "start over.", "ru": "сначала."}[lang])
        # Understood like any text outside a dialog, not "I'm not sure what you mean".
        assert offer["text"] == t["confirm"].format(id=960_004)
        await buyer.press(t["no"])


@LANGS
async def test_another_buyers_number_reads_like_an_unknown_one(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    await seed_demo(sandbox, 960_002)
    await seed_demo(sandbox, 960_003)
    buyer = sandbox.person(960_002, "Anna", language_code=lang)
    [stranger] = await buyer.send(t["stranger"].format(other=960_003))
    assert stranger["text"].startswith(t["not_mine"].format(other=960_003))
    assert stranger["text"].endswith(t["ask_any"])
    assert "Anker" not in stranger["text"]
    [unknown] = await buyer.send(t["unknown"])
    assert unknown["text"] == stranger["text"].replace("DEMO-960003-02", "DEMO-999-02")
    # Yes then starts at the buyer's own order list.
    [step] = await buyer.press(t["yes"])
    assert step["text"].startswith(t["dialog_order"])
    assert "DEMO-960003" not in str(buyer.buttons(step))


@LANGS
async def test_where_is_my_order_is_answered_from_the_order(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    await seed_demo(sandbox, 960_004)
    buyer = sandbox.person(960_004, "Anna", language_code=lang)
    [answer] = await buyer.send(t["where"].format(id=960_004))
    assert answer["text"].startswith(t["where_says"].format(id=960_004))
    assert any(t["person"] in label for label, _data in buyer.buttons(answer))
    assert await flows(sandbox) == [("where_order", "DEMO-960004-06")]
    async with sandbox.db() as session:
        assert (await session.scalars(select(Case))).all() == []


@LANGS
async def test_unsure_text_shows_the_menu_with_the_best_guess_first(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    buyer = sandbox.person(960_005, "Anna", language_code=lang)
    [menu] = await buyer.send(t["unsure"])
    assert menu["text"].startswith(t["unsure_says"])
    labels = [label for label, _data in buyer.buttons(menu)]
    assert labels[0] == t["guess"]
    assert any(t["menu"] in label for label in labels[1:])


@LANGS
async def test_greetings_and_thanks_get_a_short_answer(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    buyer = sandbox.person(960_006, "Anna", language_code=lang)
    [hello] = await buyer.send(t["hello"])
    assert hello["text"] == t["hello_says"]
    [thanks] = await buyer.send(t["thanks"])
    assert thanks["text"].startswith(t["thanks_says"])


@LANGS
async def test_payment_in_latin_letters_or_english_reaches_the_payment_dialog(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    buyer = sandbox.person(960_007, "Anna", language_code=lang)
    [offer] = await buyer.send(t["payment"])
    assert offer["text"] == t["payment_says"]
    [step] = await buyer.press(t["yes"])
    assert step["text"].startswith(t["payment_dialog"])
    assert await flows(sandbox) == [("payment", None)]


@LANGS
async def test_inside_a_dialog_text_keeps_its_meaning(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    await seed_demo(sandbox, 960_008)
    buyer = sandbox.person(960_008, "Anna", language_code=lang)
    await buyer.send("/start")
    [ask] = await buyer.press(t["menu"])
    assert ask["text"].startswith(t["dialog_order"])
    # An order number typed here is the dialog's, even with words around it.
    [step] = await buyer.send(t["cancel"].format(id=960_008).split()[-1])
    assert step["text"].startswith(t["dialog"].format(id=960_008))
    # A clear "talk to a person" is offered from any step, and the step stays.
    [offer] = await buyer.send(t["in_dialog_person"])
    assert offer["text"].startswith(t["offer_person"])
    assert await order_status(sandbox, "DEMO-960008-02") == "paid"
    [confirmed] = await buyer.press(data=buyer.buttons(step)[0][1])
    assert "DEMO-960008-02" in confirmed["text"]
    assert await order_status(sandbox, "DEMO-960008-02") == "cancelled"


@LANGS
async def test_with_an_open_case_text_is_relayed_and_a_new_request_offered(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    await seed_demo(sandbox, 960_009)
    buyer = sandbox.person(960_009, "Anna", language_code=lang)
    await buyer.send("/start")
    await buyer.press(t["person"][:6])
    await buyer.send("My parcel is late")
    replies = await buyer.send(t["open_case_text"].format(id=960_009))
    assert replies[-1]["text"].startswith(t["relayed"])
    assert replies[-1]["text"].endswith(t["confirm"].format(id=960_009))
    async with sandbox.db() as session:
        texts = (await session.scalars(select(CaseMessage.text))).all()
    assert t["open_case_text"].format(id=960_009) in texts
    # Other text keeps going to the agents, with nothing offered: waiting for an
    # answer is no question about an order's delivery.
    for text in ("any news?", t["waiting"]):
        await buyer.send(text, expect=0)
        async with sandbox.db() as session:
            assert text in (await session.scalars(select(CaseMessage.text))).all()
        assert buyer.inbox()[-1]["text"] == replies[-1]["text"]


@LANGS
async def test_report_counts_requests_resolved_without_an_agent(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    await seed_demo(sandbox, 960_010)
    buyer = sandbox.person(960_010, "Anna", language_code=lang)
    await buyer.send(t["cancel"].format(id=960_010))
    await buyer.press(t["yes"])
    await buyer.press("✅")  # "Yes, cancel the order": cancelled at once, no case
    assert await order_status(sandbox, "DEMO-960010-02") == "cancelled"
    # Another buyer confirms a typed cancel too, then asks a person: not without an agent.
    await seed_demo(sandbox, 960_011)
    other = sandbox.person(960_011, "Olga", language_code=lang)
    await other.send(t["cancel"].format(id=960_011))
    await other.press(t["yes"])
    await other.press(t["person"][:6])
    await other.send("Please call me back")
    sandbox.clock.advance(timedelta(hours=25))
    now = sandbox.clock.now()
    tz = ZoneInfo(sandbox.settings.timezone)
    period = period_between(date(2026, 11, 1), now.astimezone(tz).date(), tz, now)
    async with sandbox.db() as session:
        service = ReportService(session, sandbox.settings, sandbox.clock)
        report = await service.build(period, Segment.locale, lang)
    i18n = create_i18n("en")
    with i18n.context(), i18n.use_locale(lang):
        text = render(report, "md")
    assert t["report_title"] in text
    assert t["report"] in text
