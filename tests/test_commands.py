"""The first conversation: greeting, help, language, cancel, and answers to bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.emulator.sandbox import Sandbox
from storage.models import User

MENU_EN = "❌ Cancel an order"
MENU_RU = "❌ Отменить заказ"


@pytest.mark.parametrize(
    ("language_code", "greeting", "menu"),
    [("en", "Hello, Anna!", MENU_EN), ("ru", "Здравствуйте, Anna!", MENU_RU)],
)
async def test_start_greets_in_telegram_language(
    sandbox: Sandbox, language_code: str, greeting: str, menu: str
) -> None:
    anna = sandbox.person(10, "Anna", language_code=language_code)
    [reply] = await anna.send("/start")
    assert reply["text"].startswith(greeting)
    assert menu in [label for label, _ in anna.buttons(reply)]


async def test_unsupported_language_falls_back_to_default(sandbox: Sandbox) -> None:
    hans = sandbox.person(11, "Hans", language_code="de")
    [reply] = await hans.send("/start")
    assert reply["text"].startswith("Hello, Hans!")


async def test_language_choice_is_saved_and_wins_over_telegram(sandbox: Sandbox) -> None:
    anna = sandbox.person(12, "Anna", language_code="en")
    await anna.send("/language")
    [done] = await anna.press("Русский")
    assert done["text"] == "Готово: теперь я говорю по-русски."
    [reply] = await anna.send("/start")
    assert reply["text"].startswith("Здравствуйте, Anna!")
    async with sandbox.db() as session:
        user = (await session.scalars(select(User).where(User.id == 12))).one()
    assert user.locale == "ru"


async def test_the_language_picker_has_a_way_back(sandbox: Sandbox) -> None:
    anna = sandbox.person(16, "Anna", language_code="ru")
    await anna.send("/start")
    [picker] = await anna.press("Язык")
    assert [label for label, _ in anna.buttons(picker)] == ["English", "Русский", "⬅️ Главное меню"]
    [menu] = await anna.press("Главное меню")
    assert menu["text"] == "Чем помочь?"


async def test_cancel_leaves_any_dialog(sandbox: Sandbox) -> None:
    anna = sandbox.person(13, "Анна", language_code="ru")
    await anna.send("/start")
    await anna.press("Связаться с сотрудником")
    [reply] = await anna.send("/cancel")
    assert reply["text"].startswith("Шаг прерван, из него ничего не отправлено.")
    [after] = await anna.send("просто текст")
    assert after["text"].startswith("Не совсем понятно, о чём речь.")


async def test_cancel_without_dialog_says_so(sandbox: Sandbox) -> None:
    anna = sandbox.person(14, "Anna")
    [reply] = await anna.send("/cancel")
    assert reply["text"] == "There is nothing to stop right now."


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"text": "what?"}, "I'm not sure what you mean."),
        ({"extra": {"sticker": {"file_id": "S1", "file_unique_id": "U1", "type": "regular",
                                "width": 512, "height": 512, "is_animated": False,
                                "is_video": False}}}, "I can't do anything with this here."),
        ({"text": "x" * 4096}, "I'm not sure what you mean."),
        ({"text": "/help me please now"}, "Here is what I can do:"),
    ],
)  # fmt: skip
async def test_bad_input_gets_a_short_answer(
    sandbox: Sandbox, message: dict[str, object], expected: str
) -> None:
    anna = sandbox.person(15, "Anna")
    replies = await anna.send(**message)  # type: ignore[arg-type]
    assert [r["text"][: len(expected)] for r in replies] == [expected]


async def test_tampered_button_data_is_refused_politely(sandbox: Sandbox) -> None:
    anna = sandbox.person(16, "Анна", language_code="ru")
    await anna.send("/start")
    for data in ("m:steal_everything", "lang:xx", "garbage", "m:" + "9" * 60):
        replies = await anna.press(data=data)
        assert anna.last_answer == {"text": "Эта кнопка больше не работает.", "show_alert": False}
        assert replies[-1]["text"] == "Чем помочь?"


async def test_commands_are_registered_in_both_languages(sandbox: Sandbox) -> None:
    english = sandbox.model.commands[("all_private_chats", "")]
    russian = sandbox.model.commands[("all_private_chats", "ru")]
    assert {c["command"] for c in english} == {c["command"] for c in russian} >= {
        "start", "help", "language", "cancel"
    }  # fmt: skip
    assert english[0]["description"] != russian[0]["description"]


async def test_too_long_free_text_is_refused_and_the_step_waits(sandbox: Sandbox) -> None:
    anna = sandbox.person(15, "Anna")
    await anna.send("/start")
    await anna.press("Talk to a person")
    [refused] = await anna.send("a" * 3001)
    assert refused["text"].startswith("That is longer than I can take in one message")
    [opened] = await anna.send("My parcel is late")
    assert opened["text"].startswith("Your request #")


async def test_long_text_where_an_order_number_is_expected_is_not_a_free_text(
    sandbox: Sandbox,
) -> None:
    anna = sandbox.person(16, "Anna")
    await anna.send("/start")
    await anna.press("Cancel an order")
    [reply] = await anna.send("a" * 3001)
    assert reply["text"].startswith("Please type the order number")
