"""A card number typed anywhere is masked before the bot sees it, deleted, and warned about."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.emulator.sandbox import Sandbox
from storage.models import CaseMessage
from tests.conftest import make_settings
from tests.demo import seed
from tests.desk import AGENT_ID, BUYER_ID, GROUP, texts
from tests.test_linking import MARKETPLACE_ORDER as MUG

WARNING = {
    "en": "⚠️ Please never send your card number or its security code (CVV/CVC)",
    "ru": "⚠️ Пожалуйста, никогда не присылайте номер карты и код безопасности (CVV/CVC)",
}
LANGS = pytest.mark.parametrize("lang", ["en", "ru"])
PERSON = {"en": "Talk to a person", "ru": "Связаться с сотрудником"}


def buyer_messages(sandbox: Sandbox, user_id: int) -> list[dict[str, object]]:
    bot_id = sandbox.model.bot_user["id"]
    return [m for m in sandbox.model.messages(user_id) if m["from"]["id"] != bot_id]


async def transcript(sandbox: Sandbox) -> list[str]:
    async with sandbox.db() as session:
        return list((await session.scalars(select(CaseMessage.text))).all())


@LANGS
async def test_card_number_inside_a_dialog_is_masked_and_the_dialog_goes_on(
    sandbox: Sandbox, lang: str
) -> None:
    anna = sandbox.person(60, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(PERSON[lang])
    replies = await anna.send("Charged twice on card 4111 1111 1111 1111, cvv 123, help")
    warning, opened = replies
    assert warning["text"].startswith(WARNING[lang])
    assert opened["text"].startswith(("Your request #1", "Ваше обращение №1"))
    assert await transcript(sandbox) == ["Charged twice on card •••• •••• •••• 1111, cvv •••, help"]
    assert [m.get("text") for m in buyer_messages(sandbox, 60)] == ["/start"]
    assert "deleteMessage" in [method for method, _ in sandbox.model.calls]


@LANGS
async def test_card_number_outside_a_dialog(sandbox: Sandbox, lang: str) -> None:
    anna = sandbox.person(61, "Anna", language_code=lang)
    warning, menu = await anna.send("5555-5555-5555-4444")
    assert warning["text"].startswith(WARNING[lang])
    assert menu["text"].startswith(("I'm not sure what you mean", "Не совсем понятно, о чём речь"))
    assert buyer_messages(sandbox, 61) == []
    assert await transcript(sandbox) == []


async def test_edited_message_and_caption_are_guarded_too(sandbox: Sandbox) -> None:
    anna = sandbox.person(62, "Анна", language_code="ru")
    await anna.send("/start")
    await anna.press(PERSON["ru"])
    sent = sandbox.model.send_message(62, "Подождите, сейчас напишу", queue=False)
    sandbox.model.edit_message(62, 62, sent["message_id"], "карта 4111111111111111")
    await sandbox.process()
    assert sandbox.model.bot_messages(62)[-1]["text"].startswith(WARNING["ru"])
    assert sent["message_id"] not in sandbox.model.chats[62].messages
    warning, _hint = await anna.send(photo=b"\xff\xd8jpeg", caption="чек 4111111111111111")
    assert warning["text"].startswith(WARNING["ru"])
    assert [m.get("text") for m in buyer_messages(sandbox, 62)] == ["/start"]


async def test_phones_and_the_buyers_own_order_numbers_pass_untouched(sandbox: Sandbox) -> None:
    await seed(sandbox, replace(MUG, order_id="4111111111111111", buyer_telegram_id=63))
    anna = sandbox.person(63, "Anna")
    await anna.send("/start")
    await anna.press(PERSON["en"])
    [opened] = await anna.send("Order 4111111111111111, call me at +7 916 123-45-67")
    assert opened["text"].startswith("Your request #1")
    assert await transcript(sandbox) == ["Order 4111111111111111, call me at +7 916 123-45-67"]
    assert "deleteMessage" not in [method for method, _ in sandbox.model.calls]


async def test_someone_elses_number_called_an_order_is_masked(sandbox: Sandbox) -> None:
    await seed(sandbox, replace(MUG, order_id="4111111111111111", buyer_telegram_id=99))
    anna = sandbox.person(66, "Anna")
    await anna.send("/start")
    await anna.press(data="m:person")
    warning, _opened = await anna.send("Order №4111111111111111 and 5555 5555 5555 4444")
    assert warning["text"].startswith(WARNING["en"])
    assert await transcript(sandbox) == ["Order №••••••••••••1111 and •••• •••• •••• 4444"]


async def test_unicode_digits_and_odd_separators_are_masked(sandbox: Sandbox) -> None:
    anna = sandbox.person(67, "Anna", language_code="ru")
    await anna.send("/start")
    await anna.press(data="m:person")
    warning, _opened = await anna.send("карта ４１１１\u2009１１１１.1111\u200b–\t١١١١")
    assert warning["text"].startswith(WARNING["ru"])
    [row] = await transcript(sandbox)
    assert row == "карта ••••\u2009••••.••••\u200b–\t١١١١"


async def test_a_card_in_a_hidden_link_is_masked(sandbox: Sandbox) -> None:
    anna = sandbox.person(68, "Anna")
    await anna.send("/start")
    await anna.press(data="m:person")
    link = {
        "type": "text_link",
        "offset": 0,
        "length": 8,
        "url": "https://pay.example/?pan=4111111111111111",
    }
    warning, _opened = await anna.send("pay here please", extra={"entities": [link]})
    assert warning["text"].startswith(WARNING["en"])
    async with sandbox.db() as session:
        [entities] = (await session.scalars(select(CaseMessage.entities))).all()
    assert entities is not None
    [kept] = json.loads(entities)
    assert kept["url"] == "https://pay.example/?pan=••••••••••••1111"


@pytest.fixture
async def desk_box(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Sandbox]:
    box = await Sandbox.start(make_settings(sqlite_url, agent_chat_id=GROUP), clock)
    yield box
    await box.stop()


@LANGS
async def test_a_number_split_over_two_messages_is_masked_in_both(
    desk_box: Sandbox, clock: ManualClock, lang: str
) -> None:
    anna = desk_box.person(BUYER_ID, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(data="m:person")
    await anna.send("My parcel is late")  # case №1: what follows is relayed to its topic
    await anna.send("I paid with 4111 1111")
    clock.advance(timedelta(seconds=30))
    replies = await anna.send("1111 1111, did it go through?")
    assert replies[0]["text"].startswith(WARNING[lang])
    assert await transcript(desk_box) == [
        "My parcel is late",
        "I paid with •••• ••••",
        "•••• 1111, did it go through?",
    ]
    agents = desk_box.agent(AGENT_ID, "Olga")
    seen = " ".join(texts(agents.topic(1)))
    assert "4111" not in seen
    assert "I paid with •••• ••••" in seen
    assert [m.get("text") for m in buyer_messages(desk_box, BUYER_ID)] == [
        "/start",
        "My parcel is late",
    ]


async def test_messages_a_minute_apart_are_not_joined(
    desk_box: Sandbox, clock: ManualClock
) -> None:
    anna = desk_box.person(BUYER_ID, "Anna")
    await anna.send("/start")
    await anna.press(data="m:person")
    await anna.send("My parcel is late")
    await anna.send("tracking 4111 1111")
    clock.advance(timedelta(seconds=61))
    await anna.send("1111 1111 is the second half")
    assert await transcript(desk_box) == [
        "My parcel is late",
        "tracking 4111 1111",
        "1111 1111 is the second half",
    ]


async def test_a_message_that_cannot_be_deleted_is_still_masked(sandbox: Sandbox) -> None:
    anna = sandbox.person(64, "Anna")
    await anna.send("/start")
    await anna.press(PERSON["en"])
    sandbox.model.fail("deleteMessage", 400, "Bad Request: message can't be deleted")
    warning, _opened = await anna.send("card 4111111111111111")
    assert warning["text"].startswith(WARNING["en"])
    assert await transcript(sandbox) == ["card ••••••••••••1111"]


@pytest.fixture
async def redis_sandbox(
    sqlite_url: str, redis_url: str, clock: ManualClock
) -> AsyncIterator[Sandbox]:
    box = await Sandbox.start(make_settings(sqlite_url, redis_url=redis_url), clock)
    yield box
    await box.stop()


RESET = {
    "en": "It's been a while, so I closed the conversation we had started",
    "ru": "Вы давно не отвечали, поэтому начатый разговор закрыт",
}


async def _dialog_is_reset_after_a_day(sandbox: Sandbox, clock: ManualClock, lang: str) -> None:
    anna = sandbox.person(65, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press({"en": "Payment problem", "ru": "Проблема с оплатой"}[lang])
    clock.advance(timedelta(hours=23, minutes=59))
    # Still there: the first step goes on.
    replies = await anna.press({"en": "Paying for a new order", "ru": "Оплата нового заказа"}[lang])
    assert not replies[0]["text"].startswith(RESET[lang])
    clock.advance(timedelta(hours=24))
    note, menu = await anna.send("is it raining over there?")
    assert note["text"].startswith(RESET[lang])
    assert menu["text"].startswith(("I'm not sure what you mean", "Не совсем понятно, о чём речь"))
    # Nothing is left of the old dialog: an old button no longer works.
    await anna.press(data="pay:nx")
    assert anna.last_answer is not None
    assert anna.last_answer["text"] in (
        "This button no longer works.",
        "Эта кнопка больше не работает.",
    )


@LANGS
async def test_dialog_left_for_a_day_is_reset_with_a_note(
    sandbox: Sandbox, clock: ManualClock, lang: str
) -> None:
    await _dialog_is_reset_after_a_day(sandbox, clock, lang)


async def test_dialog_reset_with_redis_storage(redis_sandbox: Sandbox, clock: ManualClock) -> None:
    await _dialog_is_reset_after_a_day(redis_sandbox, clock, "ru")
