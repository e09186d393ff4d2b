"""Two webhook workers on PostgreSQL and Redis behind one proxy: a buyer's updates go to
alternating workers, one worker is killed midway, and the conversation goes on as if
there were one bot: one dialog, one case, every message relayed once."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from bot.emulator.proxy import RoundRobin
from bot.emulator.sandbox import Agent, Person
from storage.db import create_engine, create_session_factory
from storage.models import Case, CaseMessage, InboxUpdate
from tests.e2e.conftest import AGENT_CHAT, start_live_bot
from tests.e2e.harness import BotProcess, LiveBot
from tests.e2e.servers import free_port
from tests.e2e.test_handoff import open_case

SECRET = "e2e-two-workers-secret-0123456789"


async def _count(database_url: str, query: object) -> int:
    engine = create_engine(database_url)
    try:
        async with create_session_factory(engine)() as session:
            return int(await session.scalar(query) or 0)  # type: ignore[call-overload]
    finally:
        await engine.dispose()


async def test_two_workers_share_one_buyer_and_survive_losing_one(
    tmp_path: Path, postgres_url: str, redis_url: str
) -> None:
    ports = [free_port(), free_port()]
    proxy_port = free_port()
    hook = f"http://127.0.0.1:{proxy_port}/telegram/hook"
    proxy = RoundRobin([f"http://127.0.0.1:{port}/telegram/hook" for port in ports])
    await proxy.start("127.0.0.1", proxy_port)
    env = {
        "DATABASE_URL": postgres_url,
        "REDIS_URL": redis_url,
        "WEBHOOK_URL": hook,
        "WEBHOOK_SECRET": SECRET,
        "LOCK_LEASE_SECONDS": "2",
        "SCHEDULER_INTERVAL_SECONDS": "1",
    }
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    server, first, live = await start_live_bot(
        tmp_path / "a", "--webhook", WEBHOOK_LISTEN=f"127.0.0.1:{ports[0]}", **env
    )
    second = BotProcess(
        tmp_path / "b", {**first.env, "WEBHOOK_LISTEN": f"127.0.0.1:{ports[1]}"}, first.args
    )
    try:
        since = len(live.model.calls)
        second.start()
        survivor = LiveBot(live.model, second)
        await survivor.ready(since)

        anna = live.person(990_001, "Anna", language_code="en")
        case_id = await open_case(live, anna, "My parcel never came", ru=False)
        olga = Agent(live, 990_901, AGENT_CHAT)
        live.model.add_user(olga.id, "Olga", language_code="en")
        # Written in a burst: the workers take turns storing them, and handle them in order.
        for n in range(1, 7):
            live.model.send_message(anna.id, f"message {n}")
        await live.settle(lambda: "message 6" in _buyer_messages(olga, case_id))
        assert _buyer_messages(olga, case_id) == [f"message {n}" for n in range(1, 7)]
        assert {index for index, status in proxy.answered if status == 200} == {0, 1}

        # Another burst; worker A is killed as soon as it has stored one of them.
        mark = len(proxy.answered)
        for n in range(7, 13):
            live.model.send_message(anna.id, f"message {n}")
        await proxy.wait_for(lambda: (0, 200) in proxy.answered[mark:])
        first.kill()
        anna, olga = Person(survivor, anna.id), Agent(survivor, olga.id, AGENT_CHAT)
        await survivor.settle(lambda: "message 12" in _buyer_messages(olga, case_id))
        before = len(anna.inbox())
        await olga.say(case_id, "Found it, it arrives tomorrow",
                       until=lambda: len(anna.inbox()) > before)  # fmt: skip
        assert anna.inbox()[-1]["text"].startswith("Found it, it arrives tomorrow")
        assert (0, 502) in proxy.answered  # posts to the dead worker went to the other

        # Every message once and in order; one that the kill cut short in flight may
        # come again, but only flagged as such.
        seen = _buyer_messages(olga, case_id)
        assert list(dict.fromkeys(seen)) == [f"message {n}" for n in range(1, 13)]
        if len(seen) > 12:
            assert any("may appear twice" in text for text in _texts(olga, case_id))
        assert [m["text"] for m in anna.inbox()].count(anna.inbox()[-1]["text"]) == 1
        assert await _count(postgres_url, select(func.count()).select_from(Case)) == 1
        relayed = select(func.count()).where(
            CaseMessage.case_id == case_id,
            CaseMessage.text.like("message %"),
            CaseMessage.delivery == "sent",
        )
        assert await _count(postgres_url, relayed) == 12
        unsent = select(func.count()).where(
            CaseMessage.case_id == case_id, CaseMessage.delivery != "sent"
        )
        assert await _count(postgres_url, unsent) == 0
        waiting = select(func.count()).where(InboxUpdate.done_at.is_(None))
        await survivor.eventually(lambda: _none_left(postgres_url, waiting))
    finally:
        await second.stop()
        await first.stop()
        await proxy.stop()
        await server.stop()
    for process in (first, second):
        assert SECRET not in process.log()
        assert "Traceback" not in process.log()


async def _none_left(database_url: str, query: object) -> bool:
    return await _count(database_url, query) == 0


def _buyer_messages(agent: Agent, case_id: int) -> list[str]:
    """The buyer's messages in the topic (texts waiting together are posted as one)."""
    lines = [line for text in _texts(agent, case_id) for line in text.splitlines()]
    return [line for line in lines if line.startswith("message ")]


def _texts(agent: Agent, case_id: int) -> list[str]:
    if not agent.has_topic(case_id):
        return []
    return [m.get("text") or m.get("caption") or "" for m in agent.topic(case_id)]
