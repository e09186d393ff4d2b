"""The real bot over HTTP: greets each person in their language, answers bad input."""

from __future__ import annotations

from tests.e2e.harness import TOKEN, LiveBot


async def test_start_in_russian_for_a_russian_user(live: LiveBot) -> None:
    ivan = live.person(500_001, "Иван", language_code="ru")
    [reply] = await ivan.send("/start")
    assert reply["text"].startswith("Здравствуйте, Иван!")
    assert ("❌ Отменить заказ", "m:cancel") in ivan.buttons(reply)


async def test_start_in_english_for_an_english_user(live: LiveBot) -> None:
    jane = live.person(500_002, "Jane", language_code="en")
    [reply] = await jane.send("/start")
    assert reply["text"].startswith("Hello, Jane!")
    assert ("❌ Cancel an order", "m:cancel") in jane.buttons(reply)


async def test_language_switch_and_forged_button(live: LiveBot) -> None:
    jane = live.person(500_003, "Jane", language_code="en")
    await jane.send("/language")
    [done] = await jane.press("Русский")
    assert done["text"] == "Готово: теперь я говорю по-русски."
    [menu] = await jane.press(data="m:give_me_admin")
    assert jane.last_answer is not None
    assert jane.last_answer["text"] == "Эта кнопка больше не работает."
    assert menu["text"] == "Чем помочь?"


async def test_commands_registered_and_token_kept_secret(live: LiveBot) -> None:
    assert {c["command"] for c in live.model.commands[("all_private_chats", "ru")]} >= {
        "start",
        "cancel",
    }
    assert TOKEN not in live.process.log()
