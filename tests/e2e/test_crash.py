"""Nothing lost when the process dies: SIGKILL at random moments, and SIGTERM.

Buyers with open cases and agents in the cases' topics write while the real
`supportbot run` is killed again and again; after the last restart every message
has reached the other side exactly once, or, where the bot cannot know whether
Telegram got it, appears twice with the "may appear twice" flag in the topic.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import pytest

from bot.emulator.sandbox import Agent, Person
from tests.e2e.conftest import start_live_bot
from tests.e2e.harness import LiveBot

BUYERS = 4
PER_ROUND = 2  # messages per buyer and per agent in each round
ROUNDS = 5  # one kill per round: 5 random moments (seeds)
FIRST_BUYER = 610_001


async def _open_cases(live: LiveBot) -> list[tuple[Person, int]]:
    """Each buyer opens a case by talking to a person; cases are numbered from 1."""
    people = []
    for n in range(BUYERS):
        person = live.person(FIRST_BUYER + n, f"Buyer{n}", language_code="en")
        await person.send("/start")
        await person.press("Talk to a person")
        await person.send(f"case of buyer {n}")
        people.append((person, n + 1))
    return people


def _texts_in_topic(agent: Agent, case_id: int) -> list[str]:
    return [m.get("text", "") for m in agent.topic(case_id) if m.get("from", {}).get("is_bot")]


async def _stress(tmp_path: Path, stop: str) -> None:
    server, process, live = await start_live_bot(tmp_path, SHUTDOWN_GRACE_SECONDS="20")
    rng = random.Random(20261202)  # noqa: S311 - reproducible kill moments
    try:
        people = await _open_cases(live)
        agent = Agent(live, 620_001, -1001000000001)
        live.model.add_user(agent.id, "Olga", language_code="en")
        await live.settle(lambda: all(agent.sees_card(case) for _, case in people))
        sent_by_buyers: list[tuple[int, str]] = []
        sent_by_agents: list[tuple[Person, str]] = []
        for round_ in range(ROUNDS):
            for k in range(PER_ROUND):
                for person, case in people:
                    text = f"buyer {person.id} round {round_} message {k}"
                    live.model.send_message(person.id, text)
                    sent_by_buyers.append((case, text))
                    reply = f"agent to {person.id} round {round_} reply {k}"
                    live.model.send_message(
                        agent.id, reply, chat_id=agent.chat_id, thread_id=agent.topic_id(case)
                    )
                    sent_by_agents.append((person, reply))
            await asyncio.sleep(rng.uniform(0.0, 1.5))  # the random moment of the kill
            if stop == "kill":
                await live.restart_after_kill()
            else:
                await process.stop()  # SIGINT/SIGTERM path: graceful
                since = len(live.model.calls)
                process.start()
                await live.ready(since)

        def buyers_done() -> bool:
            return all(
                any(text in t for t in _texts_in_topic(agent, case))
                for case, text in sent_by_buyers
            )

        def agents_done() -> bool:
            return all(
                any(text in m.get("text", "") for m in person.inbox())
                for person, text in sent_by_agents
            )

        live.timeout = 180  # every message of every round, after the last restart
        await live.settle(lambda: buyers_done() and agents_done())
    finally:
        await process.stop()
        await server.stop()

    duplicates = []
    for case, text in sent_by_buyers:
        seen = [t for t in _texts_in_topic(agent, case) if text in t]
        if len(seen) > 1 and not any("twice" in t for t in _texts_in_topic(agent, case)):
            duplicates.append(text)
    counts = Counter(
        text for person, _ in people for m in person.inbox() for text in [m.get("text", "")]
    )
    doubled_to_buyers = [text for _, text in sent_by_agents if counts[text] > 1]
    assert duplicates == []
    assert doubled_to_buyers == [] or stop == "kill"
    log = process.log()
    assert "Traceback" not in log, log[-3000:]


@pytest.mark.timeout(600)
async def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    await _stress(tmp_path, "kill")


@pytest.mark.timeout(600)
async def test_sigterm_finishes_what_it_has(tmp_path: Path) -> None:
    await _stress(tmp_path, "term")
