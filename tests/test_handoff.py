"""Cases reach the agents' forum group; agents and buyers talk through the case's topic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.domain.cases import CaseType, Entry
from bot.emulator.sandbox import Sandbox
from storage.models import Case, CaseEvent, CaseMessage, CaseTag, Order
from tests.conftest import make_settings
from tests.desk import AGENT_ID, BUYER_ID, GROUP, Desk, open_case, texts

PAIRINGS = [("ru", "en"), ("en", "ru")]


@pytest.fixture(params=PAIRINGS, ids=["buyer_ru-agents_en", "buyer_en-agents_ru"])
async def desk(
    request: pytest.FixtureRequest, sqlite_url: str, clock: ManualClock
) -> AsyncIterator[Desk]:
    buyer_lang, agent_lang = request.param
    settings = make_settings(sqlite_url, agent_chat_id=GROUP, agent_locale=agent_lang)
    box = await Sandbox.start(settings, clock)
    buyer = box.person(BUYER_ID, "Anna", language_code=buyer_lang)
    agent = box.agent(AGENT_ID, "Olga", language_code="de")
    await buyer.send("/start")
    yield Desk(box, buyer, agent, buyer_lang, agent_lang)
    await box.stop()


async def ask_person(desk: Desk, text: str = "Where is my parcel 12345?") -> int:
    """The buyer opens a general case through the 'talk to a person' dialog."""
    await desk.buyer.press(desk.says({"en": "Talk to a person", "ru": "Связаться с сотрудником"}))
    await desk.buyer.send(text)
    async with desk.box.db() as session:
        return (await session.scalars(select(Case.id).order_by(Case.id.desc()))).first() or 0


async def resolved_case(desk: Desk) -> int:
    """A case the buyer opened through 'talk to a person' and an agent then resolved."""
    case_id = await ask_person(desk)
    await desk.agent.press(case_id, desk.says({"en": "Resolve", "ru": "Решено"}, "agent"))
    return case_id


async def case_row(box: Sandbox, case_id: int) -> Case:
    async with box.db() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case


async def test_a_new_case_gets_its_topic_and_card(desk: Desk) -> None:
    case_id = await ask_person(desk)
    topic = desk.box.model.chats[GROUP].topics[desk.agent.topic_id(case_id)]
    name = desk.says({"en": "General question", "ru": "Общий вопрос"}, "agent")
    assert topic.name == f"№{case_id} · {name} · Anna"
    assert topic.icon_color == 0x6FB9F0
    card, history = desk.agent.topic(case_id)[:2]
    assert card["text"].startswith(
        desk.says(
            {"en": "📂 Case #1 · General question", "ru": "📂 Обращение №1 · Общий вопрос"}, "agent"
        )
    )
    language = {("en", "ru"): "английский", ("ru", "en"): "Russian"}[
        (desk.buyer_lang, desk.agent_lang)
    ]
    assert language in card["text"]
    assert "Where is my parcel 12345?" in history["text"]
    row = await case_row(desk.box, case_id)
    assert (row.agent_chat_id, row.topic_id, row.card_message_id) == (
        GROUP, desk.agent.topic_id(case_id), card["message_id"]
    )  # fmt: skip


async def test_card_shows_order_earlier_cases_and_photos_as_albums(desk: Desk) -> None:
    box = desk.box
    async with box.db() as session:
        session.add(
            Order(order_id="A-77", buyer_telegram_id=BUYER_ID, status="delivered",
                  placed_at=datetime(2026, 11, 10, 9, tzinfo=UTC),
                  paid_at=datetime(2026, 11, 10, 9, 5, tzinfo=UTC), payment_method="card",
                  amount=Decimal("2990.00"), currency="RUB", title="Wireless earbuds")
        )  # fmt: skip
        await session.commit()
    await open_case(box, BUYER_ID, type_=CaseType.payment, reason="old one")
    photos = [box.model.upload(b"jpeg%d" % i) for i in range(12)]
    entries = [Entry(sender="buyer", text="Box was crushed")] + [
        Entry(sender="buyer", content_type="photo", file_id=p.file_id,
              file_unique_id=p.file_unique_id)
        for p in photos
    ]  # fmt: skip
    opened = await open_case(
        box, BUYER_ID, type_=CaseType.defect, order_id="A-77", reason="crushed", entries=entries
    )
    topic = desk.agent.topic(opened.case.id)
    card = topic[0]["text"]
    assert "A-77" in card
    assert "Wireless earbuds" in card
    assert {"en": "RUB\xa02,990.00", "ru": "2\xa0990,00\xa0₽"}[desk.agent_lang] in card
    assert "№1" in card
    albums = [m for m in topic if "photo" in m]
    assert len(albums) == 12
    assert len({m["media_group_id"] for m in albums}) == 2  # 10 + 2


async def test_agent_reply_reaches_buyer_signed_in_buyer_language(desk: Desk) -> None:
    case_id = await ask_person(desk)
    await desk.agent.say(case_id, "Found it, it arrives tomorrow.")
    reply = desk.buyer.inbox()[-1]
    signature = desk.says({"en": "— Olga, support team", "ru": "— Olga, служба поддержки"})
    assert reply["text"] == f"Found it, it arrives tomorrow.\n\n{signature}"
    row = await case_row(desk.box, case_id)
    assert row.status == "waiting_buyer"
    assert row.assignee_name == "Olga"
    assert row.first_response_at == desk.box.clock.now()
    assert row.first_response_seconds == 0
    assert row.responded_in_time is True


async def test_signature_can_be_hidden(sqlite_url: str, clock: ManualClock) -> None:
    settings = make_settings(sqlite_url, agent_chat_id=GROUP, agent_signature="none")
    box = await Sandbox.start(settings, clock)
    buyer = box.person(BUYER_ID, "Anna")
    opened = await open_case(box, BUYER_ID)
    agent = box.agent(AGENT_ID, "Olga")
    await agent.say(opened.case.id, "Hello")
    assert buyer.inbox()[-1]["text"] == "Hello"
    await box.stop()


async def test_buyer_messages_of_every_kind_reach_the_topic(desk: Desk) -> None:
    case_id = await ask_person(desk)
    model, buyer = desk.box.model, desk.buyer
    await buyer.send("text follows")
    await buyer.send(photo=b"p1", caption="the box")
    await buyer.send(document=("receipt.pdf", b"%PDF", "application/pdf"))
    sticker = {"file_id": model.upload(b"st").file_id, "file_unique_id": "st1", "type": "regular",
               "width": 512, "height": 512, "is_animated": False, "is_video": False}  # fmt: skip
    await buyer.send(extra={"sticker": sticker})
    voice = model.upload(b"ogg")
    await buyer.send(extra={"voice": {"file_id": voice.file_id, "file_unique_id": "v1",
                                      "duration": 3}})  # fmt: skip
    for i in range(3):
        model.send_message(BUYER_ID, photo=b"a%d" % i, media_group_id="alb1",
                           caption="album" if i == 0 else None)  # fmt: skip
    await desk.box.process()
    topic = desk.agent.topic(case_id)[2:]
    assert texts(topic)[:2] == ["text follows", "the box"]
    assert "document" in topic[2]
    assert "sticker" in topic[3]
    assert "voice" in topic[4]
    album = topic[5:]
    assert len(album) == 3
    assert len({m["media_group_id"] for m in album}) == 1
    assert album[0]["caption"] == "album"
    async with desk.box.db() as session:
        rows = (await session.scalars(select(CaseMessage).where(
            CaseMessage.case_id == case_id).order_by(CaseMessage.id))).all()  # fmt: skip
    assert [r.delivery for r in rows[1:]] == ["sent"] * 8
    assert all(r.topic_message_id for r in rows[1:])


async def test_the_menu_still_answers_buyers_without_a_case(desk: Desk) -> None:
    [reply] = await desk.buyer.send("is it raining over there?")
    assert reply["text"].startswith(desk.says({"en": "I'm not sure", "ru": "Не совсем понятно"}))


async def test_long_agent_text_is_split_not_cut(desk: Desk) -> None:
    case_id = await ask_person(desk)
    words = " ".join(f"w{i}" for i in range(1200))  # about 5,900 characters
    await desk.agent.say(case_id, words)
    parts = desk.buyer.inbox()[-2:]
    assert all(len(p["text"]) <= 4096 for p in parts)
    joined = " ".join(p["text"] for p in parts)
    assert joined.startswith(words)
    assert "Olga" in parts[-1]["text"]


async def test_notes_and_commands_stay_in_the_group(desk: Desk) -> None:
    case_id = await ask_person(desk)
    before = len(desk.buyer.inbox())
    await desk.agent.say(case_id, "! buyer sounds upset, be gentle")
    await desk.agent.say(case_id, "/note checked the warehouse")
    await desk.agent.say(case_id, "/whatever")
    assert len(desk.buyer.inbox()) == before
    async with desk.box.db() as session:
        notes = (await session.scalars(select(CaseMessage.text).where(
            CaseMessage.sender == "note"))).all()  # fmt: skip
    assert notes == ["! buyer sounds upset, be gentle", "/note checked the warehouse"]
    assert (
        desk.says({"en": "Commands in a case topic", "ru": "Команды в теме"}, "agent")
        in (desk.agent.topic(case_id)[-1]["text"])
    )


async def test_edits_are_relayed_both_ways(desk: Desk) -> None:
    case_id = await ask_person(desk)
    await desk.buyer.send("my adress is Lenina 1")
    mine = desk.box.model.messages(BUYER_ID)[-1]
    desk.box.model.edit_message(BUYER_ID, BUYER_ID, mine["message_id"], "my address is Lenina 1")
    await desk.box.process()
    assert desk.agent.topic(case_id)[-1]["text"] == "my address is Lenina 1"
    said = await desk.agent.say(case_id, "Thanks, noted")
    await desk.agent.edit(said, "Thanks, noted the address")
    assert desk.buyer.inbox()[-1]["text"].startswith("Thanks, noted the address\n\n— Olga")


async def test_card_buttons_change_the_case_and_leave_an_audit_trail(desk: Desk) -> None:
    case_id = await ask_person(desk)
    agent, box = desk.agent, desk.box
    ivan = box.agent(501, "Ivan")
    take = desk.says({"en": "Take", "ru": "Взять"}, "agent")
    await agent.press(case_id, take)
    assert (
        desk.says({"en": "Agent: Olga", "ru": "Сотрудник: Olga"}, "agent")
        in agent.card(case_id)["text"]
    )
    await ivan.press(case_id, desk.says({"en": "Take over", "ru": "Забрать себе"}, "agent"))
    assert "Ivan" in agent.topic(case_id)[-1]["text"]
    assert "Olga" in agent.topic(case_id)[-1]["text"]
    await ivan.press(case_id, desk.says({"en": "Release", "ru": "Вернуть"}, "agent"))
    await agent.press(case_id, desk.says({"en": "Resolve", "ru": "Решено"}, "agent"))
    resolved = await case_row(box, case_id)
    assert resolved.status == "resolved"
    assert resolved.resolver_name == "Olga"
    assert resolved.resolution_seconds == 0
    assert resolved.resolution_work_seconds == 0
    await agent.press(case_id, desk.says({"en": "Reopen", "ru": "Открыть снова"}, "agent"))
    await agent.press(
        case_id, desk.says({"en": "Close without action", "ru": "Закрыть без"}, "agent")
    )
    async with box.db() as session:
        events = (await session.scalars(select(CaseEvent).where(
            CaseEvent.case_id == case_id).order_by(CaseEvent.id))).all()  # fmt: skip
    trail = [(e.kind, e.from_value, e.to_value, e.actor_name) for e in events]
    assert trail == [
        ("status", None, "waiting", "buyer"),
        ("topic", None, "requested", None),
        ("topic", None, "created", None),
        ("assign", None, "Olga", "Olga"),
        ("status", "waiting", "in_progress", "Olga"),
        ("assign", "Olga", "Ivan", "Ivan"),
        ("assign", "Ivan", None, "Ivan"),
        ("status", "in_progress", "waiting", "Ivan"),
        ("status", "waiting", "resolved", "Olga"),
        ("status", "resolved", "waiting", "Olga"),
        ("status", "waiting", "closed", "Olga"),
    ]
    assert (await case_row(box, case_id)).closed_at == box.clock.now()


async def test_tags_by_command_and_by_button(desk: Desk) -> None:
    case_id = await ask_person(desk)
    await desk.agent.say(case_id, "/tag Address_Problem")
    assert "#address_problem" in desk.agent.card(case_id)["text"]  # the row itself is unchanged
    await desk.agent.say(case_id, "/tag no way")
    await desk.agent.press(case_id, "#account")
    await desk.agent.press(case_id, data=f"ct:{case_id}:made_up")
    async with desk.box.db() as session:
        tags = (await session.scalars(select(CaseTag.tag).where(CaseTag.case_id == case_id))).all()
    assert sorted(tags) == ["account", "address_problem", "general"]
    assert "#account" in desk.agent.card(case_id)["text"]


async def test_macro_reaches_buyer_in_buyer_language(desk: Desk) -> None:
    case_id = await ask_person(desk)
    await desk.agent.say(case_id, "/macro")
    listing = desk.agent.topic(case_id)[-1]["text"]
    assert "refund" in listing
    assert "photos" in listing
    await desk.agent.say(case_id, "/macro refund")
    reply = desk.buyer.inbox()[-1]["text"]
    assert reply.startswith(desk.says({
        "en": "Your refund has been issued. The money reaches your card or wallet within 14 days",
        "ru": "Возврат оформлен. Деньги придут на карту или в кошелёк не позже чем через 14 дней,",
    }))  # fmt: skip


async def test_rating_and_comment_after_resolve(desk: Desk) -> None:
    case_id = await resolved_case(desk)
    ask = desk.buyer.inbox()[-1]
    assert ask["text"].startswith(desk.says({"en": "Your request #1 is resolved",
                                             "ru": "Ваше обращение №1 решено"}))  # fmt: skip
    await desk.buyer.press("4 ⭐")
    await desk.buyer.send("Quick and kind")
    row = await case_row(desk.box, case_id)
    assert (row.rating, row.rating_comment) == (4, "Quick and kind")
    topic = texts(desk.agent.topic(case_id))
    assert any("4/5" in t for t in topic)
    assert any("Quick and kind" in t for t in topic)
    assert "★★★★☆" in desk.agent.card(case_id)["text"]


async def test_a_low_rating_gets_an_apology_and_the_offer_to_reopen(desk: Desk) -> None:
    case_id = await resolved_case(desk)
    [rated] = await desk.buyer.press("1 ⭐")
    assert rated["text"].startswith(
        desk.says({"en": "I'm sorry we didn't help you as we should have with request #1.",
                   "ru": "Простите, что с обращением №1 мы помогли не так, как следовало."})
    )  # fmt: skip
    [reopened] = await desk.buyer.press(
        desk.says({"en": "Reopen the request", "ru": "Открыть обращение снова"})
    )
    assert reopened["text"].startswith(
        desk.says({"en": "Request #1 is open again.", "ru": "Обращение №1 снова открыто."})
    )
    assert (await case_row(desk.box, case_id)).status == "waiting"
    await desk.buyer.send("It still does not work")
    assert desk.agent.topic(case_id)[-1]["text"] == "It still does not work"


async def test_a_good_rating_offers_no_reopening(desk: Desk) -> None:
    await resolved_case(desk)
    [rated] = await desk.buyer.press("5 ⭐")
    assert rated["text"].startswith(
        desk.says({"en": "Thank you for rating request #1: 5 of 5.",
                   "ru": "Спасибо за оценку обращения №1: 5 из 5."})
    )  # fmt: skip
    assert [data for _, data in desk.buyer.buttons(rated)] == ["m:home"]


async def test_thanks_instead_of_stars_is_acknowledged_not_a_new_problem(desk: Desk) -> None:
    case_id = await resolved_case(desk)
    thanks = desk.says({"en": "Thank you so much!", "ru": "Спасибо!"})
    [answer] = await desk.buyer.send(thanks)
    assert answer["text"] == desk.says(
        {"en": "You're welcome! I've passed your thanks on to the support team.",
         "ru": "Пожалуйста! Ваша благодарность передана команде поддержки."}
    )  # fmt: skip
    row = await case_row(desk.box, case_id)
    assert (row.status, row.rating_comment) == ("resolved", thanks)
    assert any(thanks in t for t in texts(desk.agent.topic(case_id)))


async def test_closing_a_case_tells_the_buyer_in_their_language(desk: Desk) -> None:
    case_id = await ask_person(desk)
    await desk.agent.press(
        case_id, desk.says({"en": "Close without action", "ru": "Закрыть без"}, "agent")
    )
    told = desk.buyer.inbox()[-1]
    assert told["text"].startswith(
        desk.says({"en": "Your request #1 has been closed by the support team.",
                   "ru": "Служба поддержки закрыла ваше обращение №1."})
    )  # fmt: skip
    assert "m:cancel" in [data for _, data in desk.buyer.buttons(told)]  # the menu, to start anew
    assert (await case_row(desk.box, case_id)).status == "closed"


async def test_my_requests_and_withdrawing_one(desk: Desk) -> None:
    case_id = await ask_person(desk)
    await desk.buyer.send("/start")
    [listing] = await desk.buyer.press(desk.says({"en": "My requests", "ru": "Мои обращения"}))
    assert desk.says({"en": "#", "ru": "№"}) + str(case_id) in listing["text"]
    assert desk.says({"en": "waiting for an agent", "ru": "ждёт сотрудника"}) in listing["text"]
    await desk.buyer.press(desk.says({"en": "is solved, thanks", "ru": "вопрос решён"}))
    row = await case_row(desk.box, case_id)
    assert row.status == "resolved"
    assert (
        desk.says({"en": "withdrew it", "ru": "отозвал обращение"}, "agent")
        in (desk.agent.topic(case_id)[-1]["text"])
    )


async def test_buyer_message_reopens_recent_case_and_starts_new_one_later(desk: Desk) -> None:
    case_id = await resolved_case(desk)
    desk.box.clock.advance(timedelta(days=3))
    [reply] = await desk.buyer.send("It broke again")
    again = {"en": "Your request #1 is open again", "ru": "Ваше обращение №1 снова открыто"}
    assert reply["text"].startswith(desk.says(again))
    assert (await case_row(desk.box, case_id)).status == "waiting"
    assert desk.agent.topic(case_id)[-1]["text"] == "It broke again"
    await desk.agent.press(case_id, desk.says({"en": "Resolve", "ru": "Решено"}, "agent"))
    desk.box.clock.advance(timedelta(days=8))
    [reply] = await desk.buyer.send("New trouble")
    assert desk.says({"en": "#2", "ru": "№2"}) in reply["text"]
    assert desk.agent.topic(2)[1]["text"].endswith("New trouble")


async def test_waiting_for_the_buyer_closes_itself_after_seven_days(desk: Desk) -> None:
    case_id = await ask_person(desk)
    await desk.agent.say(case_id, "Which colour was it?")
    desk.box.clock.advance(timedelta(days=6, hours=23))
    await desk.box.run_due()
    assert (await case_row(desk.box, case_id)).status == "waiting_buyer"
    desk.box.clock.advance(timedelta(hours=2))
    await desk.box.run_due()
    row = await case_row(desk.box, case_id)
    assert row.status == "closed"
    assert row.resolver_name == "Olga"
    assert desk.buyer.inbox()[-1]["text"].startswith(
        desk.says({"en": "We haven't heard back", "ru": "Мы не дождались"})
    )
    assert (
        desk.says({"en": "did not answer for 7 days", "ru": "не отвечал 7 дней."}, "agent")
        in (desk.agent.topic(case_id)[-1]["text"])
    )


async def test_group_is_reminded_once_before_the_deadline(desk: Desk) -> None:
    case_id = await ask_person(desk)
    due = (await case_row(desk.box, case_id)).response_due_at
    assert due is not None
    desk.box.clock.set(due - timedelta(hours=5))
    await desk.box.run_due()
    general = [m for m in desk.box.model.bot_messages(GROUP) if "message_thread_id" not in m]
    assert general == []
    desk.box.clock.set(due - timedelta(hours=3))
    await desk.box.run_due()
    await desk.box.run_due()
    general = [m for m in desk.box.model.bot_messages(GROUP) if "message_thread_id" not in m]
    assert len(general) == 1
    assert general[0]["text"].startswith(desk.says(
        {"en": "⏰ Case #1 (General question) still has no answer",
         "ru": "⏰ Обращение №1 (Общий вопрос) всё ещё без ответа"}, "agent"))  # fmt: skip
    assert f"/{desk.agent.topic_id(case_id)}" in general[0]["text"]
    desk.box.clock.set(due + timedelta(hours=1))  # and past the deadline, round after round
    for _ in range(3):
        await desk.box.run_due()
    assert [m for m in desk.box.model.bot_messages(GROUP) if "message_thread_id" not in m] == [
        general[0]
    ]


async def test_several_open_cases_the_buyer_chooses(desk: Desk) -> None:
    first = await open_case(desk.box, BUYER_ID, type_=CaseType.payment, locale=desk.buyer_lang)
    second = await open_case(desk.box, BUYER_ID, type_=CaseType.defect, locale=desk.buyer_lang)
    desk.box.clock.advance(timedelta(hours=1))
    mark = desk.says({"en": "#", "ru": "№"})
    [hint] = await desk.buyer.send("about the card")
    assert f"{mark}{second.case.id}" in hint["text"]
    assert desk.agent.topic(second.case.id)[-1]["text"] == "about the card"
    desk.box.clock.advance(timedelta(minutes=1))
    await desk.buyer.press(f"{mark}{first.case.id}")
    assert desk.agent.topic(first.case.id)[-1]["text"] == "about the card"
    assert (
        desk.says({"en": "#", "ru": "№"}, "agent") + str(first.case.id)
        in desk.agent.topic(second.case.id)[-1]["text"]
    )
    [] = await desk.buyer.send("and one more thing")
    assert desk.agent.topic(first.case.id)[-1]["text"] == "and one more thing"
