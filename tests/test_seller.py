"""Ask the seller: the question becomes a case that support mediates."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.emulator.sandbox import Sandbox
from handlers.order_picker import OrderCb, Purpose
from storage.models import Case, CaseMessage
from tests.demo import seed_demo

EN = {
    "menu": "Ask the seller",
    "intro": "Sellers don't take messages from buyers directly",
    "no_order": "Not about an order",
    "ask_any": "Write your question for the seller",
    "ask_order": "Write your question about “JBL Go 3” (order #DEMO-{id}-09)",
    "done": "Support will pass your question to the seller and bring the answer here.",
    "case": "Your request number is #1",
    "again": "You already have request #1 open",
    "unknown": "I can't find order #99999 among your orders.",
    "back": "Back",
}
RU = {
    "menu": "Вопрос продавцу", "intro": "Продавцы не переписываются с покупателями напрямую",
    "no_order": "Вопрос не по заказу", "ask_any": "Напишите вопрос продавцу одним сообщением",
    "ask_order": "Напишите одним сообщением ваш вопрос о «JBL Go 3» (заказ №DEMO-{id}-09)",
    "done": "Поддержка передаст ваш вопрос продавцу и пришлёт ответ сюда.",
    "case": "Номер вашего обращения — №1", "again": "у вас уже открыто обращение №1",
    "unknown": "Не нахожу заказ №99999 среди ваших заказов.",
    "back": "Назад",
}  # fmt: skip
LANGS = pytest.mark.parametrize(("lang", "t"), [("en", EN), ("ru", RU)])


async def seller_cases(sandbox: Sandbox) -> list[tuple[Case, list[str]]]:
    async with sandbox.db() as session:
        found = (await session.scalars(select(Case))).all()
        return [
            (
                case,
                list(
                    (
                        await session.scalars(
                            select(CaseMessage.text).where(CaseMessage.case_id == case.id)
                        )
                    ).all()
                ),
            )
            for case in found
        ]


@LANGS
async def test_question_about_an_order_becomes_a_case(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    await seed_demo(sandbox, 50)
    buyer = sandbox.person(50, "Anna", language_code=lang)
    await buyer.send("/start")
    [intro] = await buyer.press(t["menu"])
    assert intro["text"].startswith(t["intro"])
    labels = [label for label, _ in buyer.buttons(intro)]
    assert labels[0].endswith(t["no_order"])
    assert "m:person" in [data for _, data in buyer.buttons(intro)]  # a person, at every step
    await buyer.press(data=OrderCb(purpose=Purpose.seller, order_id="DEMO-50-09").pack())
    [ask] = buyer.inbox()[-1:]
    assert ask["text"].startswith(t["ask_order"].format(id=50))
    assert "m:person" in [data for _, data in buyer.buttons(ask)]
    [done] = await buyer.send("Does it come with a charging cable?")
    assert done["text"].startswith(t["done"])
    assert t["case"] in done["text"]
    [(case, texts)] = await seller_cases(sandbox)
    assert (case.type, case.order_id, case.buyer_id, case.locale) == (
        "seller_question",
        "DEMO-50-09",
        50,
        lang,
    )
    assert texts == ["Does it come with a charging cable?"]


@LANGS
async def test_question_not_about_an_order(sandbox: Sandbox, lang: str, t: dict[str, str]) -> None:
    buyer = sandbox.person(51, "Anna", language_code=lang)
    await buyer.send("/start")
    await buyer.press(t["menu"])
    [ask] = await buyer.press(t["no_order"])
    assert ask["text"].startswith(t["ask_any"])
    [done] = await buyer.send("Will the blue one be back in stock?")
    assert done["text"].startswith(t["done"])
    [(case, _texts)] = await seller_cases(sandbox)
    assert (case.type, case.order_id) == ("seller_question", None)
    # A second question of the same kind goes into the open case.
    await buyer.press(t["menu"])
    await buyer.press(t["no_order"])
    [again] = await buyer.send("And the green one?")
    assert again["text"].startswith(t["done"])
    assert t["again"] in again["text"]
    [(_case, texts)] = await seller_cases(sandbox)
    assert texts == ["Will the blue one be back in stock?", "And the green one?"]


@LANGS
async def test_typed_numbers_back_and_strangers_orders(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    await seed_demo(sandbox, 52)
    await seed_demo(sandbox, 53)
    buyer = sandbox.person(52, "Anna", language_code=lang)
    await buyer.send("/start")
    await buyer.press(t["menu"])
    [unknown] = await buyer.send("99999")
    assert unknown["text"].startswith(t["unknown"])
    # Someone else's order number reads exactly like a number that does not exist.
    [stranger] = await buyer.send("DEMO-53-09")
    assert stranger["text"] == unknown["text"].replace("99999", "DEMO-53-09")
    [ask] = await buyer.send("№DEMO-52-09")
    assert ask["text"].startswith(t["ask_order"].format(id=52))
    [intro] = await buyer.press(t["back"])
    assert intro["text"].startswith(t["intro"])
    # A forged button with someone else's order gets the same answer as a typed one.
    [forged] = await buyer.press(data=OrderCb(purpose=Purpose.seller, order_id="DEMO-53-01").pack())
    assert forged["text"] == unknown["text"].replace("99999", "DEMO-53-01")
    assert await seller_cases(sandbox) == []


async def test_ask_the_seller_from_an_orders_card(sandbox: Sandbox) -> None:
    await seed_demo(sandbox, 54)
    buyer = sandbox.person(54, "Анна", language_code="ru")
    await buyer.send("/start")
    await buyer.press(data=OrderCb(purpose=Purpose.view, order_id="DEMO-54-09").pack())
    [ask] = await buyer.press("Вопрос продавцу")
    assert ask["text"].startswith(RU["ask_order"].format(id=54))
    [wrong] = await buyer.send(extra={"sticker": {
        "file_id": "S1", "file_unique_id": "U1", "type": "regular", "width": 512,
        "height": 512, "is_animated": False, "is_video": False}})  # fmt: skip
    assert wrong["text"] == "Пожалуйста, напишите вопрос словами, одним сообщением."
