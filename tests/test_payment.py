"""Payment failure: every branch in both languages; a case only when it keeps failing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.emulator.sandbox import Person, Sandbox
from storage.models import Case, CaseMessage

EN = {
    "menu": "Payment problem",
    "new": "Paying for a new order",
    "repay": "Paying again for a declined order",
    "next": "Not this, next cause",
    "none": "None of these",
    "back": "Back",
    "solved": "That's it",
    "failing": "It still fails",
    "later": "try later",
    "kind": "Sorry the payment didn't go through.",
    "repay_text": "A declined payment can't be repeated as it was. Add the order to the cart",
    "advice": "Then it is most likely a short hiccup",
    "describe": "Tell me in one message",
    "solved_text": "Glad we found it.",
    "later_text": "Good luck with the payment!",
    "case": "Your request #1 is registered",
    "buttons_please": "Please answer with the buttons",
}
RU = {
    "menu": "Проблема с оплатой", "new": "Оплата нового заказа",
    "repay": "Повторная оплата отклонённого заказа", "next": "Не то, следующая причина",
    "none": "Ничего не подходит", "back": "Назад", "solved": "дело в этом",
    "failing": "Всё равно не проходит", "later": "попробую позже",
    "kind": "Жаль, что оплата не прошла.",
    "repay_text": "Отклонённый платёж нельзя просто повторить. Снова добавьте заказ в корзину",
    "advice": "Тогда, скорее всего, это временный сбой", "describe": "Опишите одним сообщением",
    "solved_text": "Хорошо, что причина нашлась.", "later_text": "Удачной оплаты!",
    "case": "Ваше обращение №1 зарегистрировано",
    "buttons_please": "Пожалуйста, отвечайте кнопками",
}  # fmt: skip
CAUSES = {"en": ["Possible cause 1 of 5: The card is blocked.",
           "Possible cause 2 of 5: The bank or the card does not allow this payment.",
           "Possible cause 3 of 5: The security code (CVV/CVC) was wrong.",
           "Possible cause 4 of 5: There is not enough money on the card.",
           "Possible cause 5 of 5: The card has expired."],
          "ru": ["Возможная причина 1 из 5: карта заблокирована.",
           "Возможная причина 2 из 5: банк или карта не разрешают такой платёж.",
           "Возможная причина 3 из 5: введён неверный код безопасности (CVV/CVC).",
           "Возможная причина 4 из 5: на карте не хватает денег.",
           "Возможная причина 5 из 5: у карты истёк срок действия."]}  # fmt: skip
LANGS = pytest.mark.parametrize(("lang", "t"), [("en", EN), ("ru", RU)])


async def open_dialog(sandbox: Sandbox, user_id: int, lang: str, t: dict[str, str]) -> Person:
    buyer = sandbox.person(user_id, "Anna", language_code=lang)
    await buyer.send("/start")
    [kind] = await buyer.press(t["menu"])
    assert kind["text"].startswith(t["kind"])
    return buyer


async def cases(sandbox: Sandbox) -> list[Case]:
    async with sandbox.db() as session:
        return list((await session.scalars(select(Case))).all())


@LANGS
async def test_five_causes_one_by_one_then_try_later(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    buyer = await open_dialog(sandbox, 40, lang, t)
    [first] = await buyer.press(t["new"])
    shown = [first["text"]]
    for _ in range(4):
        [cause] = await buyer.press(t["next"])
        shown.append(cause["text"])
    assert [text.splitlines()[0] for text in shown] == CAUSES[lang]
    assert all("\n\n" in text for text in shown)  # each with what to do
    assert not any(label.startswith("➡️") for label, _ in buyer.buttons())
    [advice] = await buyer.press(t["none"])
    assert advice["text"].startswith(t["advice"])
    [bye] = await buyer.press(t["later"])
    assert bye["text"].startswith(t["later_text"])
    assert await cases(sandbox) == []


@LANGS
async def test_repay_explains_the_cart_first_and_a_cause_can_solve_it(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    buyer = await open_dialog(sandbox, 41, lang, t)
    repay, cause = await buyer.press(t["repay"])
    assert repay["text"].startswith(t["repay_text"])
    assert cause["text"].startswith(CAUSES[lang][0])
    await buyer.press(t["next"])
    [done] = await buyer.press(t["solved"])
    assert done["text"].startswith(t["solved_text"])
    assert await cases(sandbox) == []


@LANGS
async def test_back_walks_the_steps_in_reverse(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    buyer = await open_dialog(sandbox, 42, lang, t)
    await buyer.press(t["new"])
    await buyer.press(t["next"])
    [back] = await buyer.press(t["back"])
    assert back["text"].startswith(CAUSES[lang][0])
    [kind] = await buyer.press(t["back"])
    assert kind["text"].startswith(t["kind"])
    await buyer.press(t["new"])
    for _ in range(4):
        await buyer.press(t["next"])
    await buyer.press(t["none"])
    [last] = await buyer.press(t["back"])
    assert last["text"].startswith(CAUSES[lang][4])


@LANGS
async def test_still_failing_opens_a_payment_case_with_the_description(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    buyer = await open_dialog(sandbox, 43, lang, t)
    await buyer.press(t["new"])
    for _ in range(4):
        await buyer.press(t["next"])
    await buyer.press(t["none"])
    [ask] = await buyer.press(t["failing"])
    assert ask["text"].startswith(t["describe"])
    [wrong] = await buyer.send(extra={"sticker": {
        "file_id": "S1", "file_unique_id": "U1", "type": "regular", "width": 512,
        "height": 512, "is_animated": False, "is_video": False}})  # fmt: skip
    assert wrong["text"] != ask["text"]
    [opened] = await buyer.send("Order 100511-0007: error 'Payment declined by issuer'")
    assert opened["text"].startswith(t["case"])
    [case] = await cases(sandbox)
    assert (case.type, case.buyer_id, case.locale, case.status) == ("payment", 43, lang, "waiting")
    async with sandbox.db() as session:
        texts = (await session.scalars(select(CaseMessage.text))).all()
    assert texts == ["Order 100511-0007: error 'Payment declined by issuer'"]


@LANGS
async def test_typing_where_a_button_is_expected_shows_the_step_again(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    buyer = await open_dialog(sandbox, 44, lang, t)
    await buyer.press(t["new"])
    await buyer.press(t["next"])
    hint, step = await buyer.send("it just says error")
    assert hint["text"].startswith(t["buttons_please"])
    assert step["text"].startswith(CAUSES[lang][1])


async def test_a_stale_payment_button_after_the_dialog_is_refused(sandbox: Sandbox) -> None:
    buyer = await open_dialog(sandbox, 45, "en", EN)
    await buyer.press(EN["new"])
    await buyer.send("/cancel")
    await buyer.press(data="pay:nx")
    assert buyer.last_answer == {"text": "This button no longer works.", "show_alert": False}


@LANGS
async def test_a_person_is_one_tap_away_at_every_step_and_gets_a_payment_case(
    sandbox: Sandbox, lang: str, t: dict[str, str]
) -> None:
    buyer = await open_dialog(sandbox, 80, lang, t)
    person = {"en": "🙋 Talk to a person", "ru": "🙋 Связаться с сотрудником"}[lang]
    assert person in [label for label, _ in buyer.buttons()]
    [cause] = await buyer.press(t["new"])
    assert person in [label for label, _ in buyer.buttons(cause)]
    await buyer.press(person)
    await buyer.send("The bank says the payment is fine but the shop declines it")
    [case] = await cases(sandbox)
    assert case.type == "payment"
