"""A card number typed anywhere is masked before the bot sees it, deleted, and warned about."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.emulator.sandbox import Sandbox
from storage.models import CaseMessage
from tests.conftest import make_settings

WARNING = {
    "en": "⚠️ Please never send your card number or its security code (CVV/CVC)",
    "ru": "⚠️ Пожалуйста, никогда не присылайте номер карты и код безопасности (CVV/CVC)",
}
LANGS = pytest.mark.parametrize("lang", ["en", "ru"])


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
    await anna.press(index=5)  # Talk to a person
    replies = await anna.send("Charged twice on card 4111 1111 1111 1111, cvv 123, help")
    warning, opened = replies
    assert warning["text"].startswith(WARNING[lang])
    assert opened["text"].startswith(("Your request №1", "Ваше обращение №1"))
    assert await transcript(sandbox) == ["Charged twice on card •••• •••• •••• 1111, cvv •••, help"]
    assert [m.get("text") for m in buyer_messages(sandbox, 60)] == ["/start"]
    assert "deleteMessage" in [method for method, _ in sandbox.model.calls]


@LANGS
async def test_card_number_outside_a_dialog(sandbox: Sandbox, lang: str) -> None:
    anna = sandbox.person(61, "Anna", language_code=lang)
    warning, menu = await anna.send("5555-5555-5555-4444")
    assert warning["text"].startswith(WARNING[lang])
    assert menu["text"].startswith(("I'm not sure what you mean", "Не совсем понял вас"))
    assert buyer_messages(sandbox, 61) == []
    assert await transcript(sandbox) == []


async def test_edited_message_and_caption_are_guarded_too(sandbox: Sandbox) -> None:
    anna = sandbox.person(62, "Анна", language_code="ru")
    await anna.send("/start")
    await anna.press(index=5)
    sent = sandbox.model.send_message(62, "Подождите, сейчас напишу", queue=False)
    sandbox.model.edit_message(62, 62, sent["message_id"], "карта 4111111111111111")
    await sandbox.process()
    assert sandbox.model.bot_messages(62)[-1]["text"].startswith(WARNING["ru"])
    assert sent["message_id"] not in sandbox.model.chats[62].messages
    warning, _hint = await anna.send(photo=b"\xff\xd8jpeg", caption="чек 4111111111111111")
    assert warning["text"].startswith(WARNING["ru"])
    assert [m.get("text") for m in buyer_messages(sandbox, 62)] == ["/start"]


async def test_phone_and_order_numbers_pass_untouched(sandbox: Sandbox) -> None:
    anna = sandbox.person(63, "Anna")
    await anna.send("/start")
    await anna.press(index=5)
    [opened] = await anna.send("Order 4111111111111111, call me at +7 916 123-45-67")
    assert opened["text"].startswith("Your request №1")
    assert await transcript(sandbox) == ["Order 4111111111111111, call me at +7 916 123-45-67"]
    assert "deleteMessage" not in [method for method, _ in sandbox.model.calls]


async def test_a_message_that_cannot_be_deleted_is_still_masked(sandbox: Sandbox) -> None:
    anna = sandbox.person(64, "Anna")
    await anna.send("/start")
    await anna.press(index=5)
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
    "ru": "Вы давно не отвечали, поэтому я закрыл начатый разговор",
}


async def _dialog_is_reset_after_a_day(sandbox: Sandbox, clock: ManualClock, lang: str) -> None:
    anna = sandbox.person(65, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(index=3)  # Payment problem
    clock.advance(timedelta(hours=23, minutes=59))
    replies = await anna.press(index=0)  # still there: the first step goes on
    assert not replies[0]["text"].startswith(RESET[lang])
    clock.advance(timedelta(hours=24))
    note, menu = await anna.send("is it raining over there?")
    assert note["text"].startswith(RESET[lang])
    assert menu["text"].startswith(("I'm not sure what you mean", "Не совсем понял вас"))
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
