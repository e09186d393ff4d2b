"""Erasure and retention: /forget_me, `supportbot forget` and DATA_RETENTION_DAYS erase
a buyer's personal data through one service; the report's figures stay as they were."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.desk.card import CaseAction, CaseCb
from bot.emulator.sandbox import Agent, Person, Sandbox
from bot.ops.forget import forget
from bot.reports.service import ReportService, period_between
from bot.ui.callbacks import MenuAction, MenuCb, RateCb
from handlers.privacy import ForgetAction, ForgetCb
from storage.models import Case, CaseEvent, CaseMessage, CaseTag, FsmRecord, User
from storage.repositories.reports import Segment
from tests.conftest import START, make_settings
from tests.desk import AGENT_ID, GROUP
from tests.factories import PHOTO

BUYER = 71
NAME = "Zinaida"
LINKED = "MK-71-ZZ"
SECRET = "my flat is 5 Lenina street"
COMMENT = "Olga was quick"

NOTE = {
    "en": "🗑 The buyer's personal data in this case was erased",
    "ru": "🗑 Личные данные покупателя в этом обращении удалены",
}
ASK = {"en": "This erases what I keep about you", "ru": "Я удалю всё, что храню о вас"}
DONE = {"en": "Done: your data is erased.", "ru": "Готово: ваши данные удалены."}
KEPT = {"en": "Nothing was erased.", "ru": "Ничего не удалено."}


async def started(database_url: str, clock: ManualClock, lang: str, **values: Any) -> Sandbox:
    settings = make_settings(
        database_url, agent_chat_id=GROUP, agent_locale="ru" if lang == "en" else "en", **values
    )
    return await Sandbox.start(settings, clock)


async def talk_to_a_person(buyer: Person, text: str) -> None:
    await buyer.press(data=MenuCb(action=MenuAction.person).pack())
    await buyer.send(text)


async def history(
    box: Sandbox, clock: ManualClock, agent: Agent, lang: str = "en"
) -> tuple[int, int]:
    """The buyer's two cases, the way people make them: one answered, resolved and
    rated with a comment; one closed without action. A photo, a linked account and a
    dialog in progress too."""
    buyer = box.person(BUYER, NAME, language_code=lang)
    await buyer.send("/start")
    async with box.db() as session:
        user = await session.get(User, BUYER)
        assert user is not None
        user.buyer_id = LINKED
        await session.commit()
    await talk_to_a_person(buyer, f"Hello, {SECRET}")
    await buyer.send(photo=PHOTO, caption=f"{NAME}'s parcel")
    clock.advance(timedelta(minutes=30))
    await agent.say(1, "We will check, Zinaida")
    await agent.press(1, data=CaseCb(action=CaseAction.resolve, case_id=1).pack())
    await buyer.press(data=RateCb(case_id=1, score=4).pack())
    await buyer.send(COMMENT)
    await talk_to_a_person(buyer, "Spam by mistake")
    await agent.press(2, data=CaseCb(action=CaseAction.close, case_id=2).pack())
    await buyer.press(data=MenuCb(action=MenuAction.person).pack())  # a dialog in progress
    return 1, 2


async def figures(box: Sandbox) -> list[Any]:
    """Everything the report shows for the period, by type."""
    tz = ZoneInfo(box.settings.timezone)
    day = START.astimezone(tz).date()
    async with box.db() as session:
        period = period_between(day, day + timedelta(days=1), tz, box.clock.now())
        report = await ReportService(session, box.settings, box.clock).build(
            period, Segment.type, "en"
        )
    return [
        report.all,
        {key: value for key, value in report.segments.items()},
        report.tags,
        report.per_day,
    ]


async def assert_erased(box: Sandbox, case_ids: tuple[int, ...]) -> None:
    async with box.db() as session:
        assert await session.get(User, BUYER) is None
        assert (await session.scalars(select(User).where(User.buyer_id == LINKED))).all() == []
        for case_id in case_ids:
            case = await session.get(Case, case_id)
            assert case is not None
            assert (case.buyer_id, case.reason, case.rating_comment, case.order_id) == (
                None,
                "",
                None,
                None,
            )
            assert case.erased_at is not None
        query = select(CaseMessage).where(CaseMessage.case_id.in_(case_ids))
        messages = (await session.scalars(query)).all()
        assert messages  # the rows stay, as counts
        for row in messages:
            assert (row.text, row.file_id, row.file_unique_id, row.entities) == (
                "",
                None,
                None,
                None,
            )
            if row.sender != "agent":
                assert (row.sender_id, row.sender_name) == (None, None)
        events = (
            await session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(case_ids)))
        ).all()
        assert BUYER not in {event.actor_id for event in events}
        keys = (await session.scalars(select(FsmRecord.key))).all()
        assert not [key for key in keys if f":{BUYER}:{BUYER}:" in key]


@pytest.mark.parametrize("lang", ["en", "ru"])
async def test_forget_me_erases_the_buyer_and_keeps_the_figures(
    sqlite_url: str, clock: ManualClock, lang: str
) -> None:
    await forget_me_keeps_the_figures(sqlite_url, clock, lang)


async def test_forget_me_on_postgresql(postgres_url: str, clock: ManualClock) -> None:
    await forget_me_keeps_the_figures(postgres_url, clock, "ru")


async def forget_me_keeps_the_figures(database_url: str, clock: ManualClock, lang: str) -> None:
    box = await started(database_url, clock, lang)
    try:
        agent = box.agent(AGENT_ID)
        cases = await history(box, clock, agent, lang)
        async with box.db() as session:
            assert (await session.scalars(select(FsmRecord.key))).all()  # the dialog
            tags_before = (await session.scalars(select(CaseTag.tag).order_by(CaseTag.tag))).all()
        before = await figures(box)
        buyer = Person(box, BUYER)
        [ask] = await buyer.send("/forget_me")
        assert ask["text"].startswith(ASK[lang])
        [kept] = await buyer.press(data=ForgetCb(action=ForgetAction.keep).pack())
        assert kept["text"] == KEPT[lang]
        async with box.db() as session:
            assert await session.get(User, BUYER) is not None
        await buyer.send("/forget_me")
        [done] = await buyer.press(data=ForgetCb(action=ForgetAction.confirm).pack())
        assert done["text"].startswith(DONE[lang])
        await box.process()

        await assert_erased(box, cases)
        assert await figures(box) == before
        async with box.db() as session:
            rows = (await session.scalars(select(Case).order_by(Case.id))).all()
            assert [(c.type, c.status, c.rating) for c in rows] == [
                ("general", "resolved", 4),
                ("general", "closed", None),
            ]
            tags = (await session.scalars(select(CaseTag.tag).order_by(CaseTag.tag))).all()
            assert tags == tags_before
        agents_lang = box.settings.agent_locale
        for case_id in cases:
            topic = box.model.chats[GROUP].topics[agent.topic_id(case_id)]
            assert NAME not in topic.name
            assert topic.name.startswith(f"№{case_id} · ")
            last = agent.topic(case_id)[-1]["text"]
            assert last.startswith(NOTE[agents_lang])
            card = agent.card(case_id)["text"]
            assert NAME not in card
            assert SECRET not in card
            assert COMMENT not in card
    finally:
        await box.stop()


async def test_forget_me_with_dialogs_in_redis(
    sqlite_url: str, redis_url: str, clock: ManualClock
) -> None:
    from redis.asyncio import Redis

    box = await started(sqlite_url, clock, "en", redis_url=redis_url)
    client = Redis.from_url(redis_url)
    try:
        buyer = box.person(BUYER, NAME)
        other = box.person(BUYER + 1, "Pavel")
        for person in (buyer, other):
            await person.send("/start")
            await person.press(data=MenuCb(action=MenuAction.person).pack())
        assert [k async for k in client.scan_iter(match=f"fsm:*{BUYER}:{BUYER}:*")]
        await buyer.send("/forget_me")
        await buyer.press(data=ForgetCb(action=ForgetAction.confirm).pack())
        assert not [k async for k in client.scan_iter(match=f"fsm:*{BUYER}:{BUYER}:*")]
        other_keys = [k async for k in client.scan_iter(match=f"fsm:*{BUYER + 1}:*")]
        assert other_keys  # someone else's dialog is left alone
    finally:
        await client.aclose()
        await box.stop()


@pytest.mark.parametrize("by", ["telegram", "buyer"])
async def test_operators_erase_from_the_cli_and_the_bot_tells_the_topics(
    sqlite_url: str, clock: ManualClock, by: str, capsys: pytest.CaptureFixture[str]
) -> None:
    box = await started(sqlite_url, clock, "en")
    try:
        agent = box.agent(AGENT_ID)
        cases = await history(box, clock, agent)
        buyer = Person(box, BUYER)
        await talk_to_a_person(buyer, "Still open, call me Zinaida")  # an open case: closed
        code = await forget(
            box.settings, BUYER if by == "telegram" else None, LINKED if by == "buyer" else None
        )
        assert code == 0
        assert "3 case(s)" in capsys.readouterr().out
        await assert_erased(box, (*cases, 3))
        async with box.db() as session:
            case = await session.get(Case, 3)
            assert case is not None
            assert case.status == "closed"
        await box.run_due()  # the running bot tells the topics
        for case_id in (*cases, 3):
            assert agent.topic(case_id)[-1]["text"].startswith(NOTE["ru"])
        assert await forget(box.settings, BUYER, None) == 1  # nothing left
    finally:
        await box.stop()


async def test_retention_erases_cases_closed_long_ago(sqlite_url: str, clock: ManualClock) -> None:
    box = await started(sqlite_url, clock, "en", data_retention_days=30)
    try:
        agent = box.agent(AGENT_ID)
        cases = await history(box, clock, agent)
        clock.advance(timedelta(days=29))
        await box.run_due()
        async with box.db() as session:
            assert (await session.get(User, BUYER)) is not None
            kept = (await session.scalars(select(Case.erased_at).where(Case.id.in_(cases)))).all()
            assert kept == [None, None]
        # Someone else's recent case is not touched.
        newcomer = box.person(BUYER + 5, "Pavel")
        await newcomer.send("/start")
        await talk_to_a_person(newcomer, "A fresh question")
        before = await figures(box)
        clock.advance(timedelta(days=2))
        await box.run_due()
        await assert_erased(box, cases)
        for case_id in cases:
            assert agent.topic(case_id)[-1]["text"].startswith(NOTE["ru"])
        assert await figures(box) == before
        async with box.db() as session:
            fresh = await session.get(Case, 3)
            assert fresh is not None
            assert (fresh.buyer_id, fresh.erased_at) == (BUYER + 5, None)
            assert (await session.get(User, BUYER + 5)) is not None
    finally:
        await box.stop()


async def test_retention_is_off_by_default(sqlite_url: str, clock: ManualClock) -> None:
    box = await started(sqlite_url, clock, "en")
    try:
        assert box.settings.data_retention_days is None
        cases = await history(box, clock, box.agent(AGENT_ID))
        clock.advance(timedelta(days=3650))
        await box.run_due()
        async with box.db() as session:
            kept = (await session.scalars(select(Case.erased_at).where(Case.id.in_(cases)))).all()
            assert kept == [None, None]
            assert await session.get(User, BUYER) is not None
    finally:
        await box.stop()


def test_retention_setting_is_read_from_the_environment(sqlite_url: str) -> None:
    assert make_settings(sqlite_url, data_retention_days="").data_retention_days is None
    assert make_settings(sqlite_url, data_retention_days="365").data_retention_days == 365
    with pytest.raises(ValueError, match="greater than 0"):
        make_settings(sqlite_url, data_retention_days="0")
