"""Telegram's limits kept by the real `supportbot run` over HTTP: the emulator enforces
the three flood limits (scaled down in time, so the module takes seconds) and counts
every 429 it has to give; the bot is configured with the same limits.

- Pacing: 200 cases waiting for their topics when the bot starts reach the agents'
  group in order, with no 429 and no stall (the rate itself: tests/test_pacing.py).
- Flooding: one buyer sends 1,000 messages; they are asked once to slow down, every
  message is in the transcript and reaches the topic, the group gets no more than its
  limit, and another buyer's answers keep their usual latency.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from bot.clock import SystemClock
from bot.emulator.model import BotApiModel, RateLimits
from bot.emulator.sandbox import Agent
from bot.services import Services
from storage.db import create_engine, create_session_factory
from storage.migrate import upgrade
from storage.models import CaseMessage
from tests.conftest import make_settings
from tests.desk import open_general_cases
from tests.e2e.conftest import AGENT_CHAT, start_live_bot
from tests.e2e.harness import LiveBot

WINDOW = 1.0
"""Telegram's second and a group's minute both scaled down to one second: the bot may
send 30 messages a second in all, 20 a second to the group, one a second per buyer."""
LIMITS = RateLimits(bot=(30, WINDOW), private=(4, 2 * WINDOW), group=(20, WINDOW))
CASES = 200
FLOOD = 1000
SLOW_DOWN = "You are sending messages very fast"
FIRST_BUYER = 780_001
ANOTHER_BUYER = 789_901
"""The first of six buyers with no case, writing before and during the flood."""


def _database(workdir: Path) -> str:
    return f"sqlite+aiosqlite:///{workdir / 'bot.sqlite3'}"


async def _cases_waiting_for_topics(database_url: str) -> None:
    """CASES cases stored with no topic yet, as after a burst of buyers or an outage."""
    settings = make_settings(database_url, agent_chat_id=AGENT_CHAT)
    engine = create_engine(database_url)
    try:
        await upgrade(engine)
        async with create_session_factory(engine)() as session:
            svc = Services.build(session, settings, SystemClock())
            await open_general_cases(svc, range(FIRST_BUYER, FIRST_BUYER + CASES))
            await session.commit()
    finally:
        await engine.dispose()


@pytest_asyncio.fixture(scope="module")
async def paced(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[LiveBot]:
    workdir = tmp_path_factory.mktemp("limits")
    await _cases_waiting_for_topics(_database(workdir))

    def prepare(model: BotApiModel) -> None:
        for n in range(CASES):
            model.add_user(FIRST_BUYER + n, f"Buyer {n}", language_code="en")
        model.enforce_limits(LIMITS)

    server, process, live = await start_live_bot(
        workdir,
        prepare=prepare,
        BOT_MESSAGES_PER_SECOND=str(30 / WINDOW),
        PRIVATE_MESSAGES_PER_SECOND=str(1 / WINDOW),
        GROUP_MESSAGES_PER_MINUTE=str(20 * 60 / WINDOW),
        FLOOD_LIMIT="20",
        FLOOD_WINDOW_SECONDS="10",
        SCHEDULER_INTERVAL_SECONDS="600",  # one round at start; the test watches it
    )
    live.timeout = 120
    yield live
    await process.stop()
    await server.stop()
    log = process.log()
    assert "Traceback" not in log, log[-3000:]


async def test_200_waiting_cases_reach_the_group_in_order_without_a_429(paced: LiveBot) -> None:
    olga = Agent(paced, 790_001, AGENT_CHAT)
    await paced.settle(lambda: all(olga.has_topic(case) for case in range(1, CASES + 1)))
    await paced.settle(
        lambda: all(
            any(f"help {FIRST_BUYER + case - 1}" in m.get("text", "") for m in olga.topic(case)[1:])
            for case in range(1, CASES + 1)
        )
    )
    assert paced.model.rejected == 0
    for case in range(1, CASES + 1):
        assert olga.topic(case)[0]["text"].startswith(f"📂 Case #{case}")
    made = sorted(range(1, CASES + 1), key=olga.topic_id)
    ascending = sum(a < b for a, b in itertools.pairwise(made))
    assert ascending >= 0.95 * (CASES - 1)
    group = [t for t, _method, chat in paced.model.timeline if chat == AGENT_CHAT]
    rate = (len(group) - 1) / (group[-1] - group[0])
    configured = LIMITS.group[0] / WINDOW
    longest = max(b - a for a, b in itertools.pairwise(group))
    print(f"{len(group)} group calls at {rate:.1f}/s of {configured:.0f}/s; 429s: 0")
    # Over HTTP the bot's own database work for 200 cases at once competes with the
    # pacer for the CPU (18.8/s of 20/s alone, 5.8/s beside another test run), so the
    # rate is asserted in-process (tests/test_pacing.py). What must not happen here is
    # a pacer that stalls: a pause of several windows while cases wait.
    assert longest < 3 * WINDOW


async def test_one_buyer_flooding_slows_nobody_else(paced: LiveBot, tmp_path: Path) -> None:
    olga = Agent(paced, 790_001, AGENT_CHAT)
    flooder = paced.person(FIRST_BUYER, "Buyer 0", language_code="en")  # owns case 1

    async def other_round_trip(n: int) -> float:
        """Another buyer writes /start; seconds until the bot's answer arrives. Each
        round trip is a different buyer, so no one's own chat limit is what is measured;
        their relays to agents would share the group's limit with the flood, oldest case
        first, so the bot's own answers are what must not slow down."""
        other = paced.person(ANOTHER_BUYER + n, f"Lena {n}", language_code="en")
        started = time.monotonic()
        paced.model.send_message(other.id, "/start")
        await paced.settle(lambda: len(other.inbox()) > 0)
        return time.monotonic() - started

    usual = [await other_round_trip(n) for n in range(3)]
    start = len(paced.model.timeline)
    for n in range(FLOOD):
        paced.model.send_message(flooder.id, f"flood {n}")
    during = [await other_round_trip(n) for n in range(3, 6)]

    def all_posted() -> bool:
        posted = "\n".join(m.get("text", "") for m in olga.topic(1)) + "\n"
        return all(f"flood {n}\n" in posted for n in range(FLOOD))

    await paced.settle(all_posted, within=180)
    warnings = [m for m in flooder.inbox() if m.get("text", "").startswith(SLOW_DOWN)]
    assert len(warnings) == 1
    engine = create_engine(paced.process.env["DATABASE_URL"])
    try:
        async with create_session_factory(engine)() as session:
            stored = await session.scalar(
                select(func.count()).where(
                    CaseMessage.case_id == 1, CaseMessage.text.like("flood %")
                )
            )
    finally:
        await engine.dispose()
    assert stored == FLOOD
    group = [t for t, _m, chat in paced.model.timeline[start:] if chat == AGENT_CHAT]
    seconds = group[-1] - group[0]
    print(
        f"{FLOOD} messages -> {len(group)} group posts in {seconds:.1f} s; 429s: "
        f"{paced.model.rejected}; other buyer's answers: usual {statistics.median(usual):.2f} s, "
        f"during the flood {statistics.median(during):.2f} s"
    )
    assert paced.model.rejected == 0
    assert len(group) <= LIMITS.group[0] * (seconds / WINDOW) + LIMITS.group[0]
    assert statistics.median(during) <= max(3 * statistics.median(usual), 1.0)
