"""The real bot over HTTP with agents in the forum group: cases reach their topics,
replies reach buyers, and nothing is lost when Telegram throttles, a topic is deleted
or a buyer blocks the bot. Time moves for the bot process through libfaketime."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from bot.emulator.sandbox import Agent, Person
from tests.e2e.conftest import AGENT_CHAT, start_live_bot
from tests.e2e.harness import BotProcess, LiveBot, need_time_travel


async def open_case(live: LiveBot, person: Person, text: str, *, ru: bool) -> int:
    """The buyer asks for a person; returns the case number the bot told them."""
    await person.send("/start")
    await person.press("Связаться с сотрудником" if ru else "Talk to a person")
    [reply] = await person.send(text)
    match = re.search(r"[№#](\d+)", reply["text"])
    assert match is not None, reply["text"]
    return int(match.group(1))


def last_text(agent: Agent, case_id: int) -> str:
    """The newest message in the case's topic ("" while there is none)."""
    topic = agent.topic(case_id) if agent.has_topic(case_id) else []
    return (topic[-1].get("text") or topic[-1].get("caption") or "") if topic else ""


def agent(live: LiveBot, user_id: int = 940_001, name: str = "Olga") -> Agent:
    live.model.add_user(user_id, name, language_code="en")
    return Agent(live, user_id, AGENT_CHAT)


async def test_case_reaches_topic_and_reply_reaches_buyer_in_their_language(
    live: LiveBot,
) -> None:
    anna = live.person(740_001, "Анна", language_code="ru")
    case_id = await open_case(live, anna, "Посылка не пришла, заказ 555", ru=True)
    olga = agent(live)
    await live.settle(lambda: olga.has_topic(case_id) and len(olga.topic(case_id)) >= 2)
    card, history = olga.topic(case_id)[:2]
    assert card["text"].startswith(f"📂 Case #{case_id} · General question")
    assert "Посылка не пришла, заказ 555" in history["text"]
    before = len(anna.inbox())
    await olga.say(case_id, "We are on it", until=lambda: len(anna.inbox()) > before)
    assert anna.inbox()[-1]["text"] == "We are on it\n\n— Olga, служба поддержки"
    await anna.send("Спасибо!", expect=0)
    await live.settle(lambda: last_text(olga, case_id) == "Спасибо!")


async def test_deleted_topic_is_recreated(live: LiveBot) -> None:
    jane = live.person(740_002, "Jane", language_code="en")
    case_id = await open_case(live, jane, "Where is my refund?", ru=False)
    olga = agent(live)
    await live.settle(lambda: olga.sees_card(case_id))
    old = olga.topic_id(case_id)
    live.model.delete_topic_by_hand(AGENT_CHAT, old)
    await jane.send("hello? anyone?", expect=0)
    await live.settle(
        lambda: (
            olga.has_topic(case_id)
            and olga.topic_id(case_id) != old
            and last_text(olga, case_id) == "hello? anyone?"
        )
    )
    assert olga.topic(case_id)[0]["text"].startswith(f"📂 Case #{case_id}")


async def test_429_storm_on_one_buyer_while_others_get_replies(live: LiveBot) -> None:
    slow = live.person(740_003, "Slow", language_code="en")
    fast = live.person(740_004, "Fast", language_code="en")
    slow_case = await open_case(live, slow, "slow one", ru=False)
    fast_case = await open_case(live, fast, "fast one", ru=False)
    olga = agent(live)
    await live.settle(lambda: olga.sees_card(slow_case) and olga.sees_card(fast_case))
    slow_before, fast_before = len(slow.inbox()), len(fast.inbox())
    since = len(live.model.calls)

    def tries_to_slow() -> int:
        return sum(
            method == "sendMessage" and params.get("chat_id") == str(slow.id)
            for method, params in live.model.calls[since:]
        )

    # Telegram throttles the slow buyer's chat until the fast buyer has had the reply,
    # however long the bot takes: no race between two clocks.
    storm = live.model.fail("sendMessage", 429, retry_after=1, chat_id=slow.id, times=1_000)
    await olga.say(slow_case, "reply to slow", until=lambda: tries_to_slow() >= 1)
    await olga.say(fast_case, "reply to fast", until=lambda: len(fast.inbox()) > fast_before)
    assert len(slow.inbox()) == slow_before
    live.model.faults.remove(storm)
    await live.settle(lambda: len(slow.inbox()) > slow_before)
    assert tries_to_slow() >= 2  # refused at least once, then let through
    signed = "\n\n— Olga, support team"
    assert [m["text"] for m in slow.inbox()[slow_before:]] == ["reply to slow" + signed]
    assert [m["text"] for m in fast.inbox()[fast_before:]] == ["reply to fast" + signed]


async def test_blocked_buyer_is_shown_in_the_topic(live: LiveBot) -> None:
    gone = live.person(740_005, "Gone", language_code="en")
    case_id = await open_case(live, gone, "help", ru=False)
    olga = agent(live)
    await live.settle(lambda: olga.sees_card(case_id))
    live.model.block_bot(gone.id)
    await olga.say(
        case_id,
        "are you there?",
        until=lambda: "blocked the bot" in last_text(olga, case_id),
    )


def reminders(live: LiveBot, case_id: int) -> int:
    """Reminders about the case in the agents' group's general topic."""
    return sum(
        f"Case #{case_id} " in m["text"]
        for m in live.model.bot_messages(AGENT_CHAT)
        if "message_thread_id" not in m
    )


async def reminded_after_the_deadline(
    live: LiveBot, process: BotProcess, olga: Agent, buyer: Person
) -> None:
    """A new case whose first-answer deadline then passes gets its reminder."""
    case_id = await open_case(live, buyer, "me too", ru=False)
    await live.settle(lambda: olga.sees_card(case_id))
    process.shift(timedelta(days=10))
    await live.settle(lambda: reminders(live, case_id) >= 1)


async def test_reminder_and_seven_day_auto_close_by_moving_time(tmp_path: Path) -> None:
    need_time_travel()
    server, process, live = await start_live_bot(tmp_path, SCHEDULER_INTERVAL_SECONDS="0.3")
    try:
        quiet = live.person(740_010, "Quiet", language_code="en")
        waiting = live.person(740_011, "Mila", language_code="ru")
        unanswered = await open_case(live, quiet, "nobody answers me", ru=False)
        answered = await open_case(live, waiting, "вопрос", ru=True)
        olga = agent(live)
        await live.settle(lambda: olga.sees_card(unanswered) and olga.sees_card(answered))
        before = len(waiting.inbox())
        await olga.say(answered, "Which size?", until=lambda: len(waiting.inbox()) > before)

        process.shift(timedelta(days=10))
        await live.settle(lambda: reminders(live, unanswered) >= 1)
        await live.settle(lambda: waiting.inbox()[-1]["text"].startswith("Мы не дождались"))
        await live.settle(lambda: "did not answer for 7 days" in last_text(olga, answered))
        # Let the scheduler run again past the deadline: a case opened after that first
        # reminder can only be reminded about by a later round, so each later case's
        # reminder proves at least one more round.
        for user_id in (740_012, 740_013):
            later = live.person(user_id, "Later", language_code="en")
            await reminded_after_the_deadline(live, process, olga, later)
        assert reminders(live, unanswered) == 1  # once per case, however many rounds
    finally:
        await process.stop()
        await server.stop()
