"""Outages are waited out: the database or Redis goes away mid-conversation, the bot
stops acknowledging updates, and once the server is back every message arrives."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.emulator.sandbox import Agent, Person
from tests.e2e.conftest import AGENT_CHAT, start_live_bot
from tests.e2e.harness import LiveBot
from tests.e2e.servers import OwnPostgres, OwnRedis

OUTAGE_SECONDS = 30
MESSAGES = 10


async def _open_case(live: LiveBot, user_id: int) -> tuple[Person, Agent]:
    person = live.person(user_id, "Mila", language_code="en")
    await person.send("/start")
    await person.press("Talk to a person")
    await person.send("My parcel is stuck")
    agent = Agent(live, user_id + 1, AGENT_CHAT)
    live.model.add_user(agent.id, "Olga", language_code="en")
    # The case is set up once its conversation so far is in the topic: by then the bot
    # has stored the topic's id (each call to Telegram follows the commit before it).
    # Stopped between creating the topic and storing its id, the database would see a
    # case without a topic on its return, and the case would get a second one.
    await live.settle(
        lambda: (
            agent.has_topic(1)
            and any(m.get("text", "").startswith("Conversation so far") for m in agent.topic(1))
        )
    )
    return person, agent


async def _through_an_outage(live: LiveBot, stop: object, start: object, user_id: int) -> None:
    person, agent = await _open_case(live, user_id)
    log_before = len(live.process.log().splitlines())
    stop()  # type: ignore[operator]
    sent = [f"outage message {n}" for n in range(MESSAGES)]
    for text in sent:
        live.model.send_message(person.id, text)
    await asyncio.sleep(OUTAGE_SECONDS)  # the outage itself: nothing to wait for but time
    start()  # type: ignore[operator]
    live.timeout = 120

    def arrived() -> bool:
        topic = " ".join(m.get("text", "") for m in agent.topic(1))
        return all(text in topic for text in sent)

    await live.settle(arrived)
    assert not any("Sorry" in m.get("text", "") for m in person.inbox())
    lines = live.process.log().splitlines()[log_before:]
    outage_lines = [line for line in lines if "storage" in line and "supportbot.inbox" in line]
    assert 1 <= len(outage_lines) <= 3, outage_lines  # start, maybe one "still", end
    assert outage_lines[-1].split(": ", 1)[1].startswith("storage is back")
    assert not any("Traceback" in line for line in lines), "\n".join(lines[-60:])


@pytest.mark.timeout(400)
async def test_postgres_down_for_30_seconds_loses_nothing(tmp_path: Path) -> None:
    postgres = OwnPostgres()
    postgres.create()
    (tmp_path / "bot").mkdir()
    try:
        server, process, live = await start_live_bot(
            tmp_path / "bot", DATABASE_URL=postgres.url, SCHEDULER_INTERVAL_SECONDS="5"
        )
        try:
            await _through_an_outage(live, postgres.stop, postgres.start, 980_001)
        finally:
            await process.stop()
            await server.stop()
    finally:
        postgres.stop()
        postgres.remove()


@pytest.mark.timeout(400)
async def test_redis_down_for_30_seconds_loses_nothing(tmp_path: Path, postgres_url: str) -> None:
    redis = OwnRedis(tmp_path / "redis")
    redis.start()
    (tmp_path / "bot").mkdir()
    try:
        server, process, live = await start_live_bot(
            tmp_path / "bot", DATABASE_URL=postgres_url, REDIS_URL=redis.url
        )
        try:
            await _through_an_outage(live, redis.stop, redis.start, 980_101)
        finally:
            await process.stop()
            await server.stop()
    finally:
        redis.stop()
