"""Hidden links shown: agents see where a buyer's link really leads."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram.types import MessageEntity

from bot.clock import ManualClock
from bot.desk.links import Misleading, misleading, reveal
from bot.emulator.sandbox import Sandbox
from tests.conftest import make_settings
from tests.desk import AGENT_ID, BUYER_ID, GROUP, texts


def link(offset: int, length: int, url: str) -> MessageEntity:
    return MessageEntity(type="text_link", offset=offset, length=length, url=url)


def warn(found: Misleading) -> str:
    return f"! {found.words} | {found.shown} | {found.host}"


def test_the_address_is_written_after_the_words_and_entities_still_fit() -> None:
    text = "🙂 see my order page please"  # the emoji is two UTF-16 units
    bold = MessageEntity(type="bold", offset=0, length=27)
    hidden = link(10, 10, "https://evil.example/login")  # "order page"
    shown, entities = reveal(text, [bold, hidden], warn)
    assert shown == "🙂 see my order page (https://evil.example/login) please"
    assert entities is not None
    units = shown.encode("utf-16-le")
    words = [units[2 * e.offset : 2 * (e.offset + e.length)].decode("utf-16-le") for e in entities]
    assert words == [shown, "order page"]


@pytest.mark.parametrize(
    ("words", "url", "shown", "host"),
    [("sberbank.ru", "https://sberbank.ru.login-check.io/", "sberbank.ru",
      "sberbank.ru.login-check.io"),
     ("https://www.ozon.ru/my/orders", "http://0zon-pay.com/x", "www.ozon.ru", "0zon-pay.com"),
     ("мой кабинет на госуслуги.рф", "https://gosuslugi.example", "госуслуги.рф",
      "gosuslugi.example")],
)  # fmt: skip
def test_words_that_show_another_host_are_misleading(
    words: str, url: str, shown: str, host: str
) -> None:
    assert misleading(words, url) == Misleading(words, shown, host)


@pytest.mark.parametrize(
    ("words", "url"),
    [("example.com", "https://www.example.com/a"), ("shop.example", "https://pay.shop.example/"),
     ("track my parcel", "https://evil.example")],
)  # fmt: skip
def test_words_that_show_the_same_host_or_none_are_not_misleading(words: str, url: str) -> None:
    assert misleading(words, url) is None


def test_a_link_that_reads_as_its_own_address_is_left_as_it_is() -> None:
    text = "https://example.com"
    assert reveal(text, [link(0, 19, text)], warn) == (text, [link(0, 19, text)])


@pytest.fixture(params=["en", "ru"])
async def box(
    request: pytest.FixtureRequest, sqlite_url: str, clock: ManualClock
) -> AsyncIterator[Sandbox]:
    settings = make_settings(sqlite_url, agent_chat_id=GROUP, agent_locale=request.param)
    sandbox = await Sandbox.start(settings, clock)
    yield sandbox
    await sandbox.stop()


WARNINGS = {
    "en": "⚠️ The link “sberbank.ru” shows sberbank.ru but leads to sberbank-help.io: check it",
    "ru": "⚠️ Ссылка «sberbank.ru» показывает sberbank.ru, а ведёт на sberbank-help.io: проверьте",
}


async def test_agents_see_where_a_buyers_hidden_link_leads(box: Sandbox) -> None:
    anna = box.person(BUYER_ID, "Anna")
    await anna.send("/start")
    await anna.press(data="m:person")
    await anna.send("My parcel is late")
    text = "They sent me here: sberbank.ru and then to my parcel"
    entities = [
        {"type": "text_link", "offset": 19, "length": 11, "url": "https://sberbank-help.io/pay"},
        {"type": "text_link", "offset": 43, "length": 9, "url": "https://track.example/1"},
    ]
    await anna.send(text, extra={"entities": entities})
    relayed = box.agent(AGENT_ID, "Olga").topic(1)[-1]
    shown = texts([relayed])[0]
    assert shown.startswith(
        "They sent me here: sberbank.ru (https://sberbank-help.io/pay) and then to my parcel "
        "(https://track.example/1)\n\n"
    )
    lang = box.settings.agent_locale
    assert shown.split("\n\n")[1].startswith(WARNINGS[lang])
    links = [e for e in relayed.get("entities", []) if e["type"] == "text_link"]
    units = shown.encode("utf-16-le")
    assert [
        units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le") for e in links
    ] == ["sberbank.ru", "my parcel"]
