"""Defective item: description, 2 to 10 photos (albums, files), check, and the case."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from bot.emulator.sandbox import Person, Sandbox
from tests.conftest import START
from tests.factories import PHOTO, add_orders, cases_of, only_case, order

TEXT = {
    "en": {
        "menu": "📦 Defective or damaged item",
        "which": "Which order has a defective or damaged item?",
        "describe": "Describe the problem in one message",
        "words_first": "Please describe the problem in words first",
        "photos": "Now send photos of the packaging and of the defect, with the item in the "
        "frame together with its box.",
        "one": "1 photo received. Send at least 1 more.",
        "n": "{n} photos received. Send more (up to 10 in all) or press Done.",
        "full": "10 photos received: the most one claim can take. Press Done.",
        "refused": "1 photo was not added: a claim takes at most 10, and I already have them all.",
        "refused_3": "3 photos were not added: a claim takes at most 10",
        "waiting": "I am waiting for photos now",
        "not_image": "This file is not an image.",
        "done": "Done",
        "check": "Please check your claim before I send it:",
        "count": "Photos: {n}",
        "send": "Send the claim",
        "sent": "Your claim about order #D1 and its photos are with the support team.",
        "case": "Your request number is #1",
        "press_send": "Press Send to pass the claim to support",
        "not_allowed": "A claim about a defective or damaged item is for an order that is on its "
        "way or delivered.",
        "back": "Back",
        "which_prompt": "Which order has a defective or damaged item?",
        "stopped": "Stopped.",
    },
    "ru": {
        "menu": "📦 Брак или повреждение",
        "which": "В каком заказе бракованный или повреждённый товар?",
        "describe": "Опишите проблему одним сообщением",
        "words_first": "Сначала опишите проблему словами",
        "photos": "Теперь пришлите фотографии упаковки и дефекта: товар должен быть в кадре "
        "вместе с коробкой.",
        "one": "Получена 1 фотография. Пришлите ещё хотя бы 1.",
        "n": "Получено {n} фотографи",
        "full": "Получено 10 фотографий — это максимум для одной претензии. Нажмите «Готово».",
        "refused": "1 фотография не добавлена: к одной претензии можно приложить не больше 10, "
        "и они все уже есть.",
        "refused_3": "3 фотографии не добавлены: к одной претензии можно приложить не больше 10",
        "waiting": "Сейчас я жду фотографии",
        "not_image": "Этот файл — не изображение.",
        "done": "Готово",
        "check": "Проверьте претензию перед отправкой:",
        "count": "Фотографий: {n}",
        "send": "Отправить претензию",
        "sent": "Претензия по заказу №D1 вместе с фотографиями передана в поддержку.",
        "case": "Номер вашего обращения — №1",
        "press_send": "Нажмите «Отправить претензию»",
        "not_allowed": "Претензию о браке или повреждении можно подать по заказу, который уже в "
        "пути или доставлен.",
        "back": "Назад",
        "which_prompt": "В каком заказе бракованный или повреждённый товар?",
        "stopped": "Шаг прерван, из него ничего не отправлено.",
    },
}

BUYER = 501
DESCRIPTION = "The screen is cracked and the box is crushed on one corner"


@pytest.fixture(params=["en", "ru"])
def lang(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def described(
    sandbox: Sandbox, lang: str, status: str = "delivered"
) -> tuple[Person, dict[str, str]]:
    """The buyer picks order D1 in the defect dialog and describes the problem."""
    await add_orders(sandbox, order("D1", BUYER, status, placed_at=START - timedelta(days=20)))
    t = TEXT[lang]
    anna = sandbox.person(BUYER, "Anna", language_code=lang)
    await anna.send("/start")
    [listing] = await anna.press(t["menu"])
    assert listing["text"].startswith(t["which"])
    [describe] = await anna.press("D1 · ")
    assert t["describe"] in describe["text"]
    [photos] = await anna.send(DESCRIPTION)
    assert photos["text"].startswith(t["photos"])
    return anna, t


def album(anna: Person, size: int, group: str) -> None:
    """An album as Telegram delivers it: one update per photo, here in shuffled order."""
    parts = [
        anna.model.send_message(
            anna.id, photo=PHOTO + bytes([n]), media_group_id=group, queue=False
        )
        for n in range(size)
    ]
    random.Random(size).shuffle(parts)  # noqa: S311 - test input order, not secrets
    for part in parts:
        anna.model.queue_update({"message": part})


async def send_claim(anna: Person, t: dict[str, str], count: int) -> str:
    [check] = await anna.press(t["done"])
    assert check["text"].startswith(t["check"])
    assert DESCRIPTION in check["text"]
    assert t["count"].format(n=count) in check["text"]
    [sent] = await anna.press(t["send"])
    assert sent["text"].startswith(t["sent"])
    assert t["case"] in sent["text"]
    return str(sent["text"])


async def test_two_photos_make_a_claim_with_every_photo_attached(
    sandbox: Sandbox, lang: str
) -> None:
    anna, t = await described(sandbox, lang)
    [first] = await anna.send(photo=PHOTO)
    assert first["text"] == t["one"]
    assert t["done"] not in str(anna.buttons(first))
    [second] = await anna.send(photo=PHOTO + b"2")
    assert second["text"].startswith(t["n"].format(n=2))
    assert any(t["done"] in label for label, _ in anna.buttons(second))
    # One progress message in the chat: the first one made way for the second.
    assert first["message_id"] not in {m["message_id"] for m in anna.inbox()}
    await send_claim(anna, t, 2)
    case, messages = await only_case(sandbox, BUYER)
    assert (case.type, case.order_id, case.reason) == ("defect", "D1", DESCRIPTION)
    assert [m.content_type for m in messages] == ["text", "photo", "photo"]
    assert messages[0].text == DESCRIPTION
    stored = {f.file_id: f for f in sandbox.model.files.values()}
    for message in messages[1:]:
        assert message.file_id in stored
        assert message.file_unique_id == stored[message.file_id].file_unique_id
        assert message.file_size is not None


async def test_an_album_in_shuffled_parts_counts_every_photo_once(
    sandbox: Sandbox, lang: str
) -> None:
    anna, t = await described(sandbox, lang)
    before = len(anna.inbox())
    album(anna, 5, "album-1")
    assert await sandbox.process() == 5
    progress = anna.inbox()[before:]
    assert len(progress) == 1  # one progress message, edited as the parts came in
    assert progress[0]["text"].startswith(t["n"].format(n=5))
    assert sum(t["done"] in label for label, _ in anna.buttons(progress[0])) == 1
    await send_claim(anna, t, 5)
    _case, messages = await only_case(sandbox, BUYER)
    photos = messages[1:]
    assert len(photos) == 5
    assert {m.media_group_id for m in photos} == {"album-1"}
    ids = [m.chat_message_id for m in photos]
    assert ids == sorted(ids)  # in the order the buyer sent them, whatever the delivery


async def album_after_eight(sandbox: Sandbox, anna: Person, size: int) -> list[dict[str, Any]]:
    """Eight photos as one album, then an album of `size`: the bot's answers to the second."""
    album(anna, 8, "album-1")
    await sandbox.process()
    before = {m["message_id"] for m in anna.inbox()}
    album(anna, size, "album-2")
    await sandbox.process()
    return [m for m in anna.inbox() if m["message_id"] not in before]


async def test_the_eleventh_photo_is_refused_and_nothing_is_lost(
    sandbox: Sandbox, lang: str
) -> None:
    anna, t = await described(sandbox, lang)
    new = await album_after_eight(sandbox, anna, 3)  # 2 fit, 1 does not
    # The album's last part is refused, with one message for the album.
    assert [m["text"][:20] for m in new] == [t["full"][:20], t["refused"][:20]]
    [refused] = await anna.send(photo=PHOTO)
    assert refused["text"].startswith(t["refused"])
    await send_claim(anna, t, 10)
    _case, messages = await only_case(sandbox, BUYER)
    assert len([m for m in messages if m.content_type == "photo"]) == 10


async def test_an_album_over_the_limit_says_how_many_photos_were_left_out(
    sandbox: Sandbox, lang: str
) -> None:
    anna, t = await described(sandbox, lang)
    new = await album_after_eight(sandbox, anna, 5)  # 2 fit, 3 do not
    # One message for the album's refused parts, counting all three.
    assert [m["text"][:20] for m in new] == [t["full"][:20], t["refused_3"][:20]]
    assert new[1]["text"].startswith(t["refused_3"])


async def test_an_image_sent_as_a_file_is_accepted_and_other_files_are_not(
    sandbox: Sandbox, lang: str
) -> None:
    anna, t = await described(sandbox, lang)
    [pdf] = await anna.send(document=("receipt.pdf", b"%PDF-1.4", "application/pdf"))
    assert pdf["text"].startswith(t["not_image"])
    await anna.send(document=("defect.png", b"\x89PNG", "image/png"))
    await anna.send(photo=PHOTO)
    await send_claim(anna, t, 2)
    _case, messages = await only_case(sandbox, BUYER)
    assert [m.content_type for m in messages] == ["text", "document", "photo"]
    assert messages[1].file_id is not None


async def test_a_photo_where_text_is_expected_and_text_where_a_photo_is(
    sandbox: Sandbox, lang: str
) -> None:
    await add_orders(sandbox, order("D1", BUYER, "shipped", placed_at=START - timedelta(days=3)))
    t = TEXT[lang]
    anna = sandbox.person(BUYER, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(t["menu"])
    await anna.send("D1")
    [words] = await anna.send(photo=PHOTO)
    assert words["text"].startswith(t["words_first"])
    await anna.send(DESCRIPTION)
    [waiting] = await anna.send("here they come")
    assert waiting["text"].startswith(t["waiting"])
    [confirm_step_photo] = await anna.send(photo=PHOTO)
    assert confirm_step_photo["text"] == t["one"]
    async with sandbox.db() as session:
        assert await cases_of(session, BUYER) == []  # no half-written case


async def test_back_goes_one_step_and_keeps_the_photos(sandbox: Sandbox, lang: str) -> None:
    anna, t = await described(sandbox, lang)
    await anna.send(photo=PHOTO)
    await anna.send(photo=PHOTO + b"2")
    [check] = await anna.press(t["done"])
    [wrong] = await anna.send("ok")
    assert wrong["text"].startswith(t["press_send"])
    [photos] = await anna.press(t["back"])
    assert t["n"].format(n=2) in photos["text"]
    [describe] = await anna.press(t["back"])
    assert t["describe"] in describe["text"]
    [listing] = await anna.press(t["back"])
    assert listing["text"].startswith(t["which_prompt"])
    assert check["text"]


async def test_cancel_command_stops_the_claim_without_a_case(sandbox: Sandbox, lang: str) -> None:
    anna, t = await described(sandbox, lang)
    await anna.send(photo=PHOTO)
    [stopped] = await anna.send("/cancel")
    assert stopped["text"].startswith(t["stopped"])
    async with sandbox.db() as session:
        assert await cases_of(session, BUYER) == []


async def test_an_order_that_is_not_shipped_cannot_have_a_defect_claim(
    sandbox: Sandbox, lang: str
) -> None:
    await add_orders(sandbox, order("D1", BUYER, "paid", placed_at=START - timedelta(days=1)))
    t = TEXT[lang]
    anna = sandbox.person(BUYER, "Anna", language_code=lang)
    await anna.send("/start")
    [answer] = await anna.press(data="o:d:D1")
    assert t["not_allowed"] in answer["text"]


async def test_another_dialog_can_hand_over_an_order_from_any_state(
    sandbox: Sandbox, lang: str
) -> None:
    await add_orders(sandbox, order("D1", BUYER, "delivered", placed_at=START - timedelta(days=9)))
    t = TEXT[lang]
    anna = sandbox.person(BUYER, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(t["menu"])
    await anna.send("D1")
    await anna.send(DESCRIPTION)
    [again] = await anna.press(data="o:d:D1")  # e.g. from the refund dialog's buttons
    assert t["describe"] in again["text"]


async def test_a_stale_send_button_of_another_claim_does_nothing(
    sandbox: Sandbox, lang: str
) -> None:
    anna, t = await described(sandbox, lang)
    await anna.send(photo=PHOTO)
    await anna.send(photo=PHOTO)
    await anna.press(t["done"])
    await anna.press(data="df:send:OTHER")
    assert anna.last_answer is not None
    async with sandbox.db() as session:
        assert await cases_of(session, BUYER) == []


async def test_a_person_asked_for_mid_claim_gets_the_order_description_and_photos(
    sandbox: Sandbox, lang: str
) -> None:
    anna, _t = await described(sandbox, lang)
    await anna.send(photo=PHOTO)
    await anna.send(photo=PHOTO + b"2")
    [prompt] = await anna.press({"en": "Talk to a person", "ru": "Связаться с сотрудником"}[lang])
    assert {"en": "together with order #D1", "ru": "вместе с заказом №D1"}[lang] in prompt["text"]
    [opened] = await anna.send("The seller refuses to answer, please help")
    registered = {"en": "Your request #1 is registered", "ru": "Ваше обращение №1 зарегистрировано"}
    assert opened["text"].startswith(registered[lang])
    case, messages = await only_case(sandbox, BUYER)
    assert (case.type, case.order_id) == ("defect", "D1")
    assert [(m.sender, m.content_type) for m in messages] == [
        ("bot", "text"),
        ("buyer", "text"),
        ("buyer", "photo"),
        ("buyer", "photo"),
        ("buyer", "text"),
    ]
    assert [messages[1].text, messages[4].text] == [
        DESCRIPTION,
        "The seller refuses to answer, please help",
    ]


async def test_a_person_asked_for_at_the_description_step_gets_a_defect_case_about_the_order(
    sandbox: Sandbox, lang: str
) -> None:
    await add_orders(sandbox, order("D1", BUYER, "delivered", placed_at=START - timedelta(days=20)))
    t = TEXT[lang]
    anna = sandbox.person(BUYER, "Anna", language_code=lang)
    await anna.send("/start")
    await anna.press(t["menu"])
    await anna.press("D1 · ")
    await anna.press({"en": "Talk to a person", "ru": "Связаться с сотрудником"}[lang])
    await anna.send("I can't take photos, the item smells of burning")
    case, messages = await only_case(sandbox, BUYER)
    assert (case.type, case.order_id) == ("defect", "D1")
    assert [m.sender for m in messages] == ["bot", "buyer"]
