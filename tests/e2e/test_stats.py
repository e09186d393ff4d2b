"""/stats in the agents' group, over HTTP against the real bot process."""

from __future__ import annotations

import re

from tests.e2e.conftest import AGENT_CHAT
from tests.e2e.harness import LiveBot

AGENT = 950_001


async def test_stats_answers_in_the_agents_group(live: LiveBot) -> None:
    buyer = live.person(950_002, "Anna", language_code="en")
    await buyer.send("/start")
    await buyer.press("Talk to a person")
    await buyer.send("Where is my parcel?")
    live.model.add_user(AGENT, "Olga", language_code="en")
    before = len(live.model.bot_messages(AGENT_CHAT))
    live.model.send_message(AGENT, "/stats 7d", chat_id=AGENT_CHAT)
    await live.settle(
        lambda: any("photo" in m for m in live.model.bot_messages(AGENT_CHAT)[before:])
    )
    answers = [
        m for m in live.model.bot_messages(AGENT_CHAT)[before:] if "message_thread_id" not in m
    ]
    answer = next(m for m in answers if "text" in m)
    table = answer["text"]
    assert table.startswith("Complaint-handling report")
    # The shared bot holds other tests' cases too: at least this buyer's is counted.
    opened = re.search(r"Cases opened\n(?:[^\n]* · )?English (\d+) · [^\n]*all (\d+)\n", table)
    assert opened is not None, table
    assert int(opened[1]) >= 1
    assert "|" not in table
    bold = {table[e["offset"] : e["offset"] + e["length"]]
            for e in answer["entities"] if e["type"] == "bold"}  # fmt: skip
    assert "Cases opened" in bold
    chart = next(m for m in answers if "photo" in m)
    assert chart["photo"][-1]["file_size"] > 10_000
