"""The shell shows the agents' side and lets you answer as an agent."""

from __future__ import annotations

import io

from bot.clock import ShiftedClock
from bot.emulator.sandbox import Sandbox
from bot.shell import SHELL_GROUP, Shell
from tests.conftest import make_settings


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
    assert "agents · №1 · General question · Anna › 📂 Case №1 · General question" in text
    assert "bot › Hello, checking\n      \n      — Olga, служба поддержки" in text
    assert "Ваше обращение №1 решено" in text
    assert "[№1] agent › Hello, checking" in text
    assert "  №1 · General question · Anna" in text
