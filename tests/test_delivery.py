"""The one delivery path: throttling, server errors, lost responses, blocked buyers,
deleted and closed topics, and who may act on cases."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.desk.handoff import DatabaseTurns
from bot.emulator.model import BotApiModel
from bot.emulator.sandbox import SANDBOX_TOKEN, Agent, Person, Sandbox
from storage.models import Case, CaseMessage
from tests.conftest import make_settings
from tests.desk import GROUP, open_case


@pytest.fixture
async def box(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Sandbox]:
    sandbox = await Sandbox.start(make_settings(sqlite_url, agent_chat_id=GROUP), clock)
    yield sandbox
    await sandbox.stop()


async def buyer_with_case(box: Sandbox, user_id: int, name: str) -> tuple[Person, int]:
    person = box.person(user_id, name)
    opened = await open_case(box, user_id, reason=f"help {name}")
    return person, opened.case.id


async def test_429_pauses_one_chat_while_others_keep_flowing(box: Sandbox) -> None:
    anna, first = await buyer_with_case(box, 10, "Anna")
    boris, second = await buyer_with_case(box, 11, "Boris")
    olga = box.agent(500, "Olga")
    box.model.fail("sendMessage", 429, retry_after=7, chat_id=10, times=2)
    box.model.send_message(500, "to Anna", chat_id=GROUP, thread_id=olga.topic_id(first))
    box.model.send_message(500, "to Boris", chat_id=GROUP, thread_id=olga.topic_id(second))
    await box.process(run_waits=False)
    assert boris.inbox()[-1]["text"].startswith("to Boris")
    assert anna.inbox() == []
    await box.process()
    assert anna.inbox()[-1]["text"].startswith("to Anna")
    assert box.sleep.waits.count(7) == 2


async def test_server_errors_are_retried_with_backoff(box: Sandbox) -> None:
    anna, case_id = await buyer_with_case(box, 10, "Anna")
    olga = box.agent(500, "Olga")
    box.model.fail("sendMessage", 502, chat_id=10, times=3)
    await olga.say(case_id, "hello")
    assert [m["text"] for m in anna.inbox()] == ["hello\n\n— Olga, support team"]
    assert box.sleep.waits[-3:] == [1.0, 2.0, 4.0]


async def test_lost_response_is_resent_once_and_flagged(box: Sandbox) -> None:
    anna, case_id = await buyer_with_case(box, 10, "Anna")
    olga = box.agent(500, "Olga")
    box.model.drop_response("sendMessage", chat_id=10)
    await olga.say(case_id, "hello")
    assert len(anna.inbox()) == 2  # delivered twice, as the note warns
    assert "may see it twice" in olga.topic(case_id)[-1]["text"]


async def test_blocked_buyer_is_shown_in_the_topic_not_retried(box: Sandbox) -> None:
    _anna, case_id = await buyer_with_case(box, 10, "Anna")
    olga = box.agent(500, "Olga")
    box.model.block_bot(10)
    await olga.say(case_id, "hello")
    assert "blocked the bot" in olga.topic(case_id)[-1]["text"]
    calls = [c for c in box.model.calls if c[0] == "sendMessage" and c[1]["chat_id"] == "10"]
    assert len(calls) == 1
    async with box.db() as session:
        row = (
            await session.scalars(select(CaseMessage).where(CaseMessage.sender == "agent"))
        ).one()
    assert row.delivery == "failed"


async def test_deleted_topic_is_recreated_and_the_message_still_arrives(box: Sandbox) -> None:
    anna, case_id = await buyer_with_case(box, 10, "Anna")
    olga = box.agent(500, "Olga")
    old = olga.topic_id(case_id)
    box.model.delete_topic_by_hand(GROUP, old)
    await anna.send("are you there?")
    new = olga.topic_id(case_id)
    assert new != old
    topic = olga.topic(case_id)
    assert topic[0]["text"].startswith("📂 Case #1")
    assert topic[-1]["text"] == "are you there?"
    async with box.db() as session:
        case = await session.get(Case, case_id)
    assert case is not None
    assert (case.topic_id, case.card_message_id) == (new, topic[0]["message_id"])


async def test_closed_topic_is_reopened(box: Sandbox) -> None:
    anna, case_id = await buyer_with_case(box, 10, "Anna")
    olga = box.agent(500, "Olga")
    box.model.chats[GROUP].topics[olga.topic_id(case_id)].closed = True
    await anna.send("hello again")
    assert not box.model.chats[GROUP].topics[olga.topic_id(case_id)].closed
    assert olga.topic(case_id)[-1]["text"] == "hello again"


async def test_case_survives_telegram_being_down_and_gets_its_topic_later(box: Sandbox) -> None:
    box.model.fail("createForumTopic", 500, times=100)
    anna = box.person(10, "Anna")
    await open_case(box, 10)
    assert box.model.chats[GROUP].topics == {}
    box.model.faults.clear()
    await box.run_due()
    assert Agent(box, 500, GROUP).topic(1)[0]["text"].startswith("📂 Case #1")
    assert anna.id == 10


async def test_forged_agent_buttons_from_a_private_chat_do_nothing(box: Sandbox) -> None:
    anna, case_id = await buyer_with_case(box, 10, "Anna")
    await anna.send("/start")
    for data in (f"cs:res:{case_id}", f"cs:take:{case_id}", f"ct:{case_id}:account"):
        await anna.press(data=data)
        assert anna.last_answer == {"text": "This button no longer works.", "show_alert": False}
    async with box.db() as session:
        case = await session.get(Case, case_id)
    assert case is not None
    assert (case.status, case.assignee_id) == ("waiting", None)


async def test_a_button_for_another_groups_case_is_refused(
    sqlite_url: str, clock: ManualClock
) -> None:
    settings = make_settings(sqlite_url, agent_chat_id=GROUP, agent_chats="ru:-1002000000002")
    box = await Sandbox.start(settings, clock)
    box.person(10, "Anna")
    await open_case(box, 10, locale="ru")
    ru_agent = box.agent(501, "Ivan", chat_id=-1002000000002)
    assert ru_agent.topic(1)
    en_agent = box.agent(500, "Olga")
    card = box.model.send_message(500, "x", chat_id=GROUP, queue=False)
    box.model.press(500, GROUP, card["message_id"], "cs:res:1")
    await box.process()
    assert list(box.model.callback_answers.values())[-1]["text"] == (
        "This case is not handled in this group."
    )
    assert en_agent.chat_id == GROUP
    await box.stop()


async def test_anonymous_admins_get_a_hint(box: Sandbox) -> None:
    _anna, case_id = await buyer_with_case(box, 10, "Anna")
    olga = box.agent(500, "Olga")
    group = box.model.chats[GROUP].public()
    box.model.send_message(500, "hi", chat_id=GROUP, thread_id=olga.topic_id(case_id),
                           sender_chat=group)  # fmt: skip
    await box.process()
    assert "Remain anonymous" in olga.topic(case_id)[-1]["text"]


async def test_other_groups_are_told_once_and_ignored(box: Sandbox) -> None:
    other = box.model.add_group(-1009, "Random chat", forum=False, bot_status="member")
    box.model.add_user(700, "Stranger")
    box.model.bot_joined(other.id, by=700)
    box.model.send_message(700, "/start", chat_id=other.id)
    await box.process()
    said = box.model.bot_messages(other.id)
    assert len(said) == 1
    assert said[0]["text"].startswith("I only work in the support agents' group")


async def test_start_check_names_what_to_fix(
    sqlite_url: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    model = BotApiModel(SANDBOX_TOKEN, clock=clock)
    model.add_group(GROUP, forum=False, bot_status="member", can_manage_topics=False)
    with caplog.at_level(logging.WARNING, logger="supportbot"):
        box = await Sandbox.start(make_settings(sqlite_url, agent_chat_id=GROUP), clock, model)
    await box.stop()
    lines = [r.getMessage() for r in caplog.records]
    assert f"agents' group {GROUP} is not a forum: turn on Topics in the group's settings" in lines
    assert any("administrator with the right to manage topics" in line for line in lines)


async def test_topic_deleted_before_its_card_arrived_is_made_again(box: Sandbox) -> None:
    box.model.fail("sendMessage", 400, "Bad Request: message thread not found", chat_id=GROUP)
    anna = box.person(10, "Anna")
    await open_case(box, 10)
    olga = Agent(box, 500, GROUP)
    assert olga.topic(1) == []  # somebody deleted the topic before its card arrived
    box.model.delete_topic_by_hand(GROUP, olga.topic_id(1))
    await anna.send("still there?")
    assert olga.topic(1)[0]["text"].startswith("📂 Case #1")
    assert olga.topic(1)[-1]["text"] == "still there?"


async def test_database_turns_survive_a_cancelled_waiter() -> None:
    """A lane job cancelled while it waits for a database turn leaves no trace: once the
    turns are free, the next job gets one at once."""
    turns = DatabaseTurns(2)
    await turns.take(resuming=False)
    await turns.take(resuming=False)
    waiting = asyncio.ensure_future(turns.take(resuming=True))
    await asyncio.sleep(0)
    waiting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    turns.give_back()
    turns.give_back()
    async with asyncio.timeout(1):
        await turns.take(resuming=False)
        await turns.take(resuming=True)
