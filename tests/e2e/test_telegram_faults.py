"""Telegram refusing for a while loses nothing: a long run of 5xx or 429 answers on
the topic side or the buyer side, while people keep writing, and then recovery. Every
message arrives once, in order. A buyer who blocked the bot is reported in the topic.

One real `supportbot run` against the HTTP emulator serves the whole module; each test
opens its own case with its own buyer.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from bot.emulator.sandbox import Agent, Person
from tests.e2e.conftest import AGENT_CHAT, start_live_bot
from tests.e2e.harness import LiveBot

MESSAGES = 6
RUN = 12
"""Refusals in a row: more than one call's own retries (4 tries for a 5xx, 6 for a 429),
so what recovers the messages is the outbox, on the scheduler's later rounds."""
_buyers = itertools.count(770_001, 2)
_cases = itertools.count(1)
"""The module's bot is its own: its cases are numbered from 1 in the order tests open them."""


@pytest_asyncio.fixture(scope="module")
async def faulty(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveBot]:
    server, process, live = await start_live_bot(
        tmp_path_factory.mktemp("faults"), SCHEDULER_INTERVAL_SECONDS="1"
    )
    live.timeout = 120
    yield live
    await process.stop()
    await server.stop()
    log = process.log()
    assert "Traceback" not in log, log[-3000:]


async def _open_case(live: LiveBot) -> tuple[Person, Agent, int]:
    user_id, case_id = next(_buyers), next(_cases)
    person = live.person(user_id, "Vera", language_code="en")
    await person.send("/start")
    await person.press("Talk to a person")
    await person.send("My order never came")
    agent = Agent(live, user_id + 1, AGENT_CHAT)
    live.model.add_user(agent.id, "Olga", language_code="en")

    def opened() -> bool:
        if not agent.has_topic(case_id):
            return False
        posts = _topic(agent, case_id)
        return any(p.startswith("📂") for p in posts) and any("never came" in p for p in posts)

    await live.settle(opened)
    return person, agent, case_id


def _topic(agent: Agent, case_id: int) -> list[str]:
    """What the bot posted in the case's topic."""
    return [m.get("text", "") for m in agent.topic(case_id) if m.get("from", {}).get("is_bot")]


def _in_order(posts: list[str], texts: list[str]) -> bool:
    """Each text appears in exactly one post, and the posts keep the texts' order."""
    where = []
    for text in texts:
        found = [n for n, post in enumerate(posts) if text in post]
        if len(found) != 1:
            return False
        where.append(found[0])
    return where == sorted(where)


def _refusals(live: LiveBot, chat_id: int) -> int:
    return sum(
        1 for m, params in live.model.calls if m == "sendMessage" and _chat(params) == chat_id
    )


def _chat(params: dict[str, object]) -> int | None:
    try:
        return int(str(params.get("chat_id")))
    except ValueError:
        return None


@pytest.mark.parametrize(("status", "retry_after"), [(502, None), (429, 1)])
async def test_a_long_refusal_on_the_topic_side_then_every_message_arrives(
    faulty: LiveBot, status: int, retry_after: int | None
) -> None:
    person, agent, case_id = await _open_case(faulty)
    fault = faulty.model.fail(
        "sendMessage", status, retry_after=retry_after, chat_id=AGENT_CHAT, times=RUN
    )
    sent = [f"buyer line {n} while Telegram refuses" for n in range(MESSAGES)]
    for text in sent:
        faulty.model.send_message(person.id, text)
    await faulty.settle(lambda: fault not in faulty.model.faults)  # the run is over
    await faulty.settle(lambda: _in_order(_topic(agent, case_id), sent))
    assert not any(
        "Not delivered" in post or "could not" in post for post in _topic(agent, case_id)
    )
    assert not any(m.get("text", "").startswith("⚠️") for m in person.inbox())


@pytest.mark.parametrize(("status", "retry_after"), [(502, None), (429, 1)])
async def test_a_long_refusal_on_the_buyer_side_then_every_reply_arrives(
    faulty: LiveBot, status: int, retry_after: int | None
) -> None:
    person, agent, case_id = await _open_case(faulty)
    fault = faulty.model.fail(
        "sendMessage", status, retry_after=retry_after, chat_id=person.id, times=RUN
    )
    replies = [f"agent reply {n} while Telegram refuses" for n in range(MESSAGES)]
    for text in replies:
        faulty.model.send_message(
            agent.id, text, chat_id=AGENT_CHAT, thread_id=agent.topic_id(case_id)
        )
    await faulty.settle(lambda: fault not in faulty.model.faults)
    await faulty.settle(lambda: _in_order([m.get("text", "") for m in person.inbox()], replies))
    assert not any("Not delivered" in post for post in _topic(agent, case_id))


async def test_a_buyer_who_blocked_the_bot_is_reported_in_the_topic(faulty: LiveBot) -> None:
    person, agent, case_id = await _open_case(faulty)
    faulty.model.block_bot(person.id)
    before = _refusals(faulty, person.id)
    faulty.model.send_message(
        agent.id, "Are you there?", chat_id=AGENT_CHAT, thread_id=agent.topic_id(case_id)
    )
    await faulty.settle(lambda: any("blocked the bot" in post for post in _topic(agent, case_id)))
    assert _refusals(faulty, person.id) == before + 1  # refused for good: not retried
