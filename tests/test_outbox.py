"""The outbox never gives up silently: Telegram refusing for a while keeps messages
pending until it recovers; refusing for good, or for longer than DELIVERY_GIVE_UP_HOURS,
tells the other side; a crash between sending and recording is flagged; a case whose
card or first messages never arrived repairs itself on the next scheduler round."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.domain.cases import CaseType
from bot.emulator.sandbox import Agent, Person, Sandbox
from storage.models import Case, CaseMessage
from tests.conftest import make_settings
from tests.desk import GROUP, open_case


@pytest.fixture
async def box(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Sandbox]:
    sandbox = await Sandbox.start(make_settings(sqlite_url, agent_chat_id=GROUP), clock)
    yield sandbox
    await sandbox.stop()


async def buyer_with_case(box: Sandbox, user_id: int = 10) -> tuple[Person, Agent, int]:
    person = box.person(user_id, "Anna")
    opened = await open_case(box, user_id, reason="help me")
    return person, box.agent(500, "Olga"), opened.case.id


async def rows(box: Sandbox, sender: str) -> list[CaseMessage]:
    async with box.db() as session:
        query = select(CaseMessage).where(CaseMessage.sender == sender)
        return list((await session.scalars(query.order_by(CaseMessage.id))).all())


async def later(box: Sandbox, minutes: float = 10) -> None:
    """Time passes and the scheduler runs a round."""
    box.clock.advance(timedelta(minutes=minutes))  # type: ignore[attr-defined]
    await box.run_due()


def topic_texts(agent: Agent, case_id: int) -> list[str]:
    return [m.get("text") or m.get("caption") or "" for m in agent.topic(case_id)]


@pytest.mark.parametrize(("status", "retry_after"), [(502, None), (429, 5)])
async def test_a_long_refusal_on_the_topic_side_waits_for_telegram(
    box: Sandbox, status: int, retry_after: int | None
) -> None:
    anna, olga, case_id = await buyer_with_case(box)
    box.model.fail("sendMessage", status, retry_after=retry_after, chat_id=GROUP, times=10**6)
    for n in range(3):
        await anna.send(f"message {n}", expect=0)
    for _round in range(5):
        await later(box)
    pending = await rows(box, "buyer")
    assert [r.delivery for r in pending[1:]] == ["pending"] * 3
    assert pending[1].attempts >= 5
    box.model.faults.clear()
    await later(box)
    assert [r.delivery for r in await rows(box, "buyer")][1:] == ["sent"] * 3
    # Gathered into one post, in order, after the card and the first message.
    assert topic_texts(olga, case_id)[-1] == "message 0\nmessage 1\nmessage 2"


@pytest.mark.parametrize(("status", "retry_after"), [(502, None), (429, 5)])
async def test_a_long_refusal_on_the_buyer_side_waits_for_telegram(
    box: Sandbox, status: int, retry_after: int | None
) -> None:
    anna, olga, case_id = await buyer_with_case(box)
    box.model.fail("sendMessage", status, retry_after=retry_after, chat_id=anna.id, times=10**6)
    await olga.say(case_id, "first")
    await olga.say(case_id, "second")
    for _round in range(5):
        await later(box)
    assert [r.delivery for r in await rows(box, "agent")] == ["pending", "pending"]
    assert anna.inbox() == []
    box.model.faults.clear()
    await later(box)
    assert [m["text"] for m in anna.inbox()] == [
        "first\n\n— Olga, support team",
        "second\n\n— Olga, support team",
    ]
    assert not any("Not delivered" in text for text in topic_texts(olga, case_id))


async def test_after_the_give_up_time_the_topic_is_told(box: Sandbox) -> None:
    anna, olga, case_id = await buyer_with_case(box)
    box.model.fail("sendMessage", 502, chat_id=anna.id, times=10**6)
    await olga.say(case_id, "hello")
    await later(box, minutes=23 * 60)
    assert [r.delivery for r in await rows(box, "agent")] == ["pending"]
    await later(box, minutes=61)
    assert [r.delivery for r in await rows(box, "agent")] == ["failed"]
    assert topic_texts(olga, case_id)[-1] == (
        "⚠️ Not delivered to the buyer: Telegram kept refusing it for 24 hours (“Bad Gateway”)."
    )


async def test_a_buyer_message_refused_for_good_tells_the_topic_and_the_buyer(
    box: Sandbox,
) -> None:
    anna, olga, case_id = await buyer_with_case(box)
    box.model.fail("sendMessage", 400, "Bad Request: message is too long", chat_id=GROUP)
    await anna.send("a very long story", expect=0)
    assert [r.delivery for r in await rows(box, "buyer")][-1] == "failed"
    assert topic_texts(olga, case_id)[-1] == (
        "⚠️ A message from the buyer could not be posted here (Telegram answered "
        "“Bad Request: message is too long”). The buyer has been told. They wrote:\n"
        "a very long story"
    )
    assert anna.inbox()[-1]["text"].startswith("⚠️ Sorry, your last message could not be passed")


async def test_a_message_left_sending_by_a_crash_goes_again_flagged(box: Sandbox) -> None:
    anna, olga, case_id = await buyer_with_case(box)
    box.model.drop_response("sendMessage", chat_id=GROUP, times=2)  # in flight at the crash
    await anna.send("are you there?", expect=0)
    async with box.db() as session:  # the crash: the row never got past "sending"
        [row] = (
            await session.scalars(select(CaseMessage).where(CaseMessage.text == "are you there?"))
        ).all()
        row.delivery = "sending"
        await session.commit()
    await later(box)
    texts = topic_texts(olga, case_id)
    assert texts.count("are you there?") == 3  # twice before the crash, once after it
    # Flagged before it goes again: a crash right after the resend cannot lose the flag.
    assert texts[-2:] == [
        "⚠️ The buyer's next message was being posted when the connection broke or the bot "
        "stopped, so it is posted again: it may appear twice.",
        "are you there?",
    ]
    assert [r.delivery for r in await rows(box, "buyer")][-1] == "sent"


async def test_a_case_whose_card_never_arrived_gets_it_next_round(box: Sandbox) -> None:
    box.model.fail("sendMessage", 502, chat_id=GROUP, times=10**6)
    box.person(10, "Anna")
    opened = await open_case(box, 10, reason="where is my parcel")
    olga = Agent(box, 500, GROUP)
    assert olga.has_topic(opened.case.id)
    assert olga.topic(opened.case.id) == []
    await later(box)
    box.model.faults.clear()
    await later(box)
    texts = topic_texts(olga, opened.case.id)
    assert texts[0].startswith("📂 Case #1")
    assert "where is my parcel" in texts[1]
    assert len(texts) == 2


async def test_history_refused_after_the_card_is_posted_next_round(box: Sandbox) -> None:
    box.person(10, "Anna")
    # The card gets through, the conversation so far does not.
    box.model.fail("sendMessage", 502, chat_id=GROUP, times=4, skip=1)
    opened = await open_case(box, 10, reason="where is my parcel")
    olga = Agent(box, 500, GROUP)
    async with box.db() as session:
        case = await session.get(Case, opened.case.id)
        assert case is not None
        assert (case.card_message_id is not None, case.history_posted) == (True, False)
    await later(box)
    texts = topic_texts(olga, opened.case.id)
    assert [t.split("\n")[0] for t in texts] == ["📂 Case #1 · General question",
                                                 "Conversation so far:"]  # fmt: skip


EARLIER_TOPIC = (
    "⚠️ The connection broke or the bot stopped while this case's topic was being made, "
    "so the group may also have an earlier topic named «№1 · General question · Anna» with "
    "nothing in it. Everything about the case is here; the empty one can be deleted."
)


async def topics_of_case_1(box: Sandbox) -> tuple[list[int], list[str]]:
    """Every topic named for case #1, and the texts in the one the case keeps."""
    made = [
        t.thread_id for t in box.model.chats[GROUP].topics.values() if t.name.startswith("№1 ·")
    ]
    async with box.db() as session:
        case = await session.get(Case, 1)
        assert case is not None
        assert case.topic_id is not None
    kept = [m.get("text", "") for m in box.model.messages(GROUP, thread_id=case.topic_id)]
    return made, [t for t in kept if t]


async def test_a_topic_made_twice_after_a_lost_answer_says_so_in_the_one_kept(box: Sandbox) -> None:
    box.person(10, "Anna")
    box.model.drop_response("createForumTopic")  # made, but the bot never hears of it
    await open_case(box, 10, reason="where is my parcel")
    made, texts = await topics_of_case_1(box)
    assert len(made) == 2
    assert texts[0].startswith("📂 Case #1")
    assert texts[-1] == EARLIER_TOPIC


async def test_a_topic_request_with_no_outcome_is_announced_on_the_next_try(box: Sandbox) -> None:
    box.person(10, "Anna")
    # Both tries lose their answers: the bot cannot know whether a topic exists.
    box.model.drop_response("createForumTopic", times=2)
    await open_case(box, 10, reason="where is my parcel")
    await later(box)
    made, texts = await topics_of_case_1(box)
    assert len(made) == 3
    assert texts[0].startswith("📂 Case #1")
    assert texts.count(EARLIER_TOPIC) == 1


async def test_a_topic_refused_then_made_is_not_announced(box: Sandbox) -> None:
    box.person(10, "Anna")
    box.model.fail("createForumTopic", 400, "Bad Request: not enough rights", chat_id=GROUP)
    await open_case(box, 10, reason="where is my parcel")
    await later(box)
    made, texts = await topics_of_case_1(box)
    assert len(made) == 1
    assert texts[0].startswith("📂 Case #1")
    assert EARLIER_TOPIC not in texts


async def resolved_case(box: Sandbox) -> tuple[Person, Agent, int]:
    anna, olga, case_id = await buyer_with_case(box)
    await olga.press(case_id, "Resolve")
    return anna, olga, case_id


async def test_a_refused_answer_never_rolls_back_a_reopening(box: Sandbox) -> None:
    anna, olga, case_id = await resolved_case(box)
    box.model.fail("sendMessage", 429, retry_after=3, chat_id=anna.id)
    await anna.send("It broke again", expect=0)
    async with box.db() as session:
        case = await session.get(Case, case_id)
    assert case is not None
    assert case.status == "waiting"
    assert topic_texts(olga, case_id)[-1] == "It broke again"


async def test_a_refused_answer_never_rolls_back_a_new_case(box: Sandbox) -> None:
    anna, olga, _case_id = await resolved_case(box)
    box.clock.advance(timedelta(days=8))  # type: ignore[attr-defined]
    box.model.fail("sendMessage", 429, retry_after=3, chat_id=anna.id)
    await anna.send("New trouble", expect=0)
    assert topic_texts(olga, 2)[1].endswith("New trouble")


async def test_a_refused_hint_never_rolls_back_a_message_to_one_of_several_cases(
    box: Sandbox,
) -> None:
    anna, olga, first = await buyer_with_case(box)
    # Another kind of request: a second case (an order that is not the buyer's would be
    # dropped, and the message would join the first case).
    second = (await open_case(box, anna.id, type_=CaseType.payment, reason="other")).case.id
    box.clock.advance(timedelta(hours=1))  # type: ignore[attr-defined]
    box.model.fail("sendMessage", 429, retry_after=3, chat_id=anna.id)
    await anna.send("about the card", expect=0)
    assert topic_texts(olga, second)[-1] == "about the card"
    assert first != second
