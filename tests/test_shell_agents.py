"""The shell shows the agents' side and lets you answer as an agent."""

from __future__ import annotations

import io

from bot.clock import ShiftedClock
from bot.emulator.sandbox import Sandbox
from bot.shell import SHELL_GROUP, Shell
from storage.db import create_engine, create_session_factory
from tests.conftest import make_settings
from tests.factories import transcript


async def test_shell_answers_as_an_agent_and_presses_card_buttons(sqlite_url: str) -> None:
    clock = ShiftedClock()
    box = await Sandbox.start(make_settings(sqlite_url, agent_chat_id=SHELL_GROUP), clock)
    out = io.StringIO()
    shell = Shell(box, box.person(1001, "Anna", language_code="ru"), clock, out,
                  box.agent(2001, "Olga", chat_id=SHELL_GROUP))  # fmt: skip
    for line in ("/start", "6", "Посылка застряла", ":agent Hello, checking", ":resolve",
                 ":topic", ":cases"):  # fmt: skip
        await shell.handle(line)
    await box.stop()
    text = out.getvalue()
    assert "agents · №1 · General question · Anna › 📂 Case #1 · General question" in text
    assert "bot › Hello, checking\n      \n      — Olga, служба поддержки" in text
    assert "Ваше обращение №1 решено" in text
    assert "[№1] agent › Hello, checking" in text
    assert "  №1 · General question · Anna" in text


async def test_a_case_without_a_topic_gets_one_line_and_the_shell_goes_on(
    sqlite_url: str,
) -> None:
    clock = ShiftedClock()
    box = await Sandbox.start(make_settings(sqlite_url, agent_chat_id=SHELL_GROUP), clock)
    out = io.StringIO()
    shell = Shell(box, box.person(1001, "Anna"), clock, out,
                  box.agent(2001, "Olga", chat_id=SHELL_GROUP))  # fmt: skip
    for line in (":cases", ":topic 99", ":take 99", ":agent #99 hi", ":help"):
        await shell.handle(line)
    await box.stop()
    text = out.getvalue()
    assert "  (no case has reached the agents yet)" in text
    assert text.count("case 99 has no topic in this shell; :cases lists the ones it has") == 3
    assert ":quit" in text  # still running after the three misses


async def test_a_second_shell_on_the_same_database_gives_the_new_case_its_own_topic(
    sqlite_url: str,
) -> None:
    settings = make_settings(sqlite_url, agent_chat_id=SHELL_GROUP)
    for user_id, name, text in ((1001, "Anna", "My parcel is stuck"),
                                (1002, "Boris", "My card was charged twice")):  # fmt: skip
        clock = ShiftedClock()
        box = await Sandbox.start(settings, clock)
        out = io.StringIO()
        shell = Shell(box, box.person(user_id, name), clock, out,
                      box.agent(2001, "Olga", chat_id=SHELL_GROUP))  # fmt: skip
        for line in ("/start", "6", text, f":agent Hello {name}"):
            await shell.handle(line)
        topics = list(box.model.chats[SHELL_GROUP].topics.values())
        await box.stop()
    assert [topic.name for topic in topics] == ["№2 · General question · Boris"]
    assert "bot › Hello Boris" in out.getvalue()
    engine = create_engine(sqlite_url)
    async with create_session_factory(engine)() as session:
        first, second = await transcript(session, 1), await transcript(session, 2)
    await engine.dispose()
    assert [m.text for m in first if m.sender == "agent"] == ["Hello Anna"]
    assert [m.text for m in second if m.sender == "agent"] == ["Hello Boris"]
