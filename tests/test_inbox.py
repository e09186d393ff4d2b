"""The inbox in-process: stored before handling, done with the handler's changes,
redeliveries ignored, what a crash left is handled on the next start, outages waited out."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram.methods import CreateForumTopic
from aiogram.types import Update
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.clock import ManualClock
from bot.domain.cases import TOPIC_REQUESTED, TOPIC_SETTLE_SECONDS, CaseService
from bot.emulator.sandbox import Sandbox
from bot.inbox import Inbox, Outage, chat_key
from storage.db import create_engine, create_session_factory
from storage.locks import RedisLocks
from storage.migrate import upgrade
from storage.models import Case, CaseMessage, FsmRecord, InboxUpdate, User
from storage.repositories.cases import CaseRepository
from storage.repositories.inbox import InboxRepository
from tests.conftest import make_settings
from tests.desk import AGENT_ID, BUYER_ID, GROUP, open_case


def _inbox(
    sandbox: Sandbox, outage: Outage | None = None, locks: RedisLocks | None = None
) -> Inbox:
    async def healthy() -> None:
        return None

    return Inbox(
        sandbox.dp,
        sandbox.bot,
        create_session_factory(sandbox.engine),
        sandbox.clock,
        outage or Outage(healthy, first_wait=0.01),
        locks=locks,
    )


def _updates(sandbox: Sandbox) -> list[Update]:
    return [
        Update.model_validate(raw, context={"bot": sandbox.bot})
        for raw in sandbox.model.take_updates()
    ]


async def _rows(sandbox: Sandbox) -> list[InboxUpdate]:
    async with sandbox.db() as session:
        return list((await session.scalars(select(InboxUpdate))).all())


async def test_an_update_is_stored_then_done_with_its_payload_dropped(sandbox: Sandbox) -> None:
    inbox = _inbox(sandbox)
    anna = sandbox.person(41, "Anna")
    sandbox.model.send_message(anna.id, "/start")
    await inbox.accept(_updates(sandbox))
    await inbox.drain()

    [row] = await _rows(sandbox)
    assert row.done_at is not None
    assert row.payload is None  # what the person wrote is not kept once handled
    assert anna.inbox()[-1]["text"].startswith("Hello")


async def test_a_redelivered_update_is_handled_once(sandbox: Sandbox) -> None:
    inbox = _inbox(sandbox)
    anna = sandbox.person(42, "Anna")
    sandbox.model.send_message(anna.id, "/start")
    batch = _updates(sandbox)
    await inbox.accept(batch)
    await inbox.drain()
    await inbox.accept(batch)  # Telegram hands the same batch out again
    await inbox.drain()

    greetings = [m for m in anna.inbox() if m["text"].startswith("Hello")]
    assert len(greetings) == 1


async def _store_a_batch_twice(url: str) -> None:
    """A batch handed out again (Telegram repeats it when the offset did not move) adds
    only the updates not stored before."""
    engine = create_engine(url)
    try:
        await upgrade(engine)
        sessions = create_session_factory(engine)
        now = datetime(2026, 12, 3, 9, tzinfo=UTC)
        async with sessions() as session:
            first = await InboxRepository(session).add([(1, "7", "{}"), (2, "7", "{}")], now)
            await session.commit()
        async with sessions() as session:
            again = await InboxRepository(session).add([(2, "7", "{}"), (3, "8", "{}")], now)
            await session.commit()
        async with sessions() as session:
            stored = (await session.scalars(select(InboxUpdate.update_id))).all()
        assert (first, again, sorted(stored)) == ({1, 2}, {3}, [1, 2, 3])
    finally:
        await engine.dispose()


async def test_a_batch_stored_again_stores_only_what_is_new_on_sqlite(sqlite_url: str) -> None:
    await _store_a_batch_twice(sqlite_url)


@pytest.mark.postgres
async def test_a_batch_stored_again_stores_only_what_is_new_on_postgres(postgres_url: str) -> None:
    await _store_a_batch_twice(postgres_url)


async def test_updates_left_by_a_crash_are_handled_on_the_next_start_in_order(
    sandbox: Sandbox,
) -> None:
    anna = sandbox.person(43, "Anna")
    for text in ("/start", "/help"):
        sandbox.model.send_message(anna.id, text)
    batch = _updates(sandbox)
    # Stored, then the process died before handling them.
    async with sandbox.db() as session:
        for update in batch:
            session.add(
                InboxUpdate(
                    update_id=update.update_id,
                    payload=update.model_dump_json(exclude_none=True),
                    received_at=sandbox.clock.now(),
                )
            )
        await session.commit()

    inbox = _inbox(sandbox)
    assert await inbox.resume() == 2
    await inbox.drain()

    texts = [m["text"] for m in anna.inbox()]
    assert texts[0].startswith("Hello")  # /start answered before /help
    assert "/cancel" in texts[-1]
    assert all(row.done_at is not None for row in await _rows(sandbox))
    assert await inbox.next_offset() == batch[-1].update_id + 1


async def test_chats_are_kept_apart_and_idle_chats_cost_nothing(sandbox: Sandbox) -> None:
    inbox = _inbox(sandbox)
    people = [sandbox.person(100 + n, f"P{n}") for n in range(20)]
    for person in people:
        sandbox.model.send_message(person.id, "/start")
    batch = _updates(sandbox)
    assert len({chat_key(u) for u in batch}) == 20
    await inbox.accept(batch)
    await inbox.drain()
    assert all(p.inbox()[-1]["text"].startswith("Hello") for p in people)
    assert inbox.busy == 0
    assert inbox._chats == {}


async def test_an_outage_is_waited_out_and_the_update_handled_after(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    down = asyncio.Event()
    down.set()
    probes = 0

    async def probe() -> None:
        nonlocal probes
        probes += 1
        if probes >= 3:
            down.clear()
        if down.is_set():
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))

    real_feed = sandbox.dp.feed_update

    async def feed(bot: Any, update: Update, **kwargs: Any) -> Any:
        if down.is_set():
            raise OperationalError("SELECT", {}, ConnectionRefusedError("refused"))
        return await real_feed(bot, update, **kwargs)

    monkeypatch.setattr(sandbox.dp, "feed_update", feed)
    inbox = _inbox(sandbox, Outage(probe, first_wait=0.01, max_wait=0.02))
    anna = sandbox.person(44, "Anna")
    sandbox.model.send_message(anna.id, "/start")
    with caplog.at_level(logging.WARNING, logger="supportbot.inbox"):
        await inbox.accept(_updates(sandbox))
        await inbox.drain()

    assert anna.inbox()[-1]["text"].startswith("Hello")
    assert not any("Sorry" in m["text"] for m in anna.inbox())  # no apology for an outage
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2
    assert lines[0].startswith("storage unreachable")
    assert lines[1].startswith("storage is back")


async def test_a_failing_handler_is_answered_once_and_not_retried(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr("storage.repositories.users.UserRepository.touch", broken)
    inbox = _inbox(sandbox)
    anna = sandbox.person(45, "Anna")
    sandbox.model.send_message(anna.id, "/start")
    await inbox.accept(_updates(sandbox))
    await inbox.drain()

    assert [m["text"] for m in anna.inbox()] == [
        "Sorry, something went wrong on our side. Please try again in a minute."
    ]
    [row] = await _rows(sandbox)
    assert row.done_at is not None
    async with sandbox.db() as session:
        assert await session.get(User, anna.id) is None


class Tries:
    """How many times the inbox handed each update to the dispatcher."""

    def __init__(self, box: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ids: list[int] = []
        self._more = asyncio.Event()
        real_feed = box.dp.feed_update

        async def feed(bot: Any, update: Update, **kwargs: Any) -> Any:
            self.ids.append(update.update_id)
            self._more.set()
            return await real_feed(bot, update, **kwargs)

        monkeypatch.setattr(box.dp, "feed_update", feed)

    async def reach(self, update_id: int, count: int) -> None:
        while self.ids.count(update_id) < count:
            self._more.clear()
            await self._more.wait()


@pytest.fixture
async def group_box(sqlite_url: str, clock: ManualClock) -> AsyncIterator[Sandbox]:
    box = await Sandbox.start(make_settings(sqlite_url, agent_chat_id=GROUP), clock)
    yield box
    await box.stop()


async def test_an_agent_writing_in_a_topic_the_bot_has_not_stored_yet_is_relayed_once(
    group_box: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = group_box
    inbox = _inbox(box)
    buyer = box.person(BUYER_ID, "Anna")
    agent = box.agent(AGENT_ID, "Olga")
    tries = Tries(box, monkeypatch)
    early: list[int] = []

    real_request = box.bot.session.make_request

    async def make_request(bot: Any, method: Any, **options: Any) -> Any:
        result = await real_request(bot, method, **options)
        if isinstance(method, CreateForumTopic):
            # Telegram made the topic; the bot has not stored its id yet, and the agent
            # already writes in it.
            box.model.send_message(
                agent.id, "Olga here, checking", chat_id=GROUP, thread_id=result.message_thread_id
            )
            [update] = _updates(box)
            early.append(update.update_id)
            await inbox.accept([update])
            await asyncio.wait_for(tries.reach(update.update_id, 2), 10)
        return result

    monkeypatch.setattr(box.bot.session, "make_request", make_request)
    await buyer.send("/start")
    await buyer.press("Talk to a person")
    await buyer.send("My parcel is late")
    await inbox.drain()
    await box.process()

    assert early, "no topic was made"
    relayed = [m for m in buyer.inbox() if m["text"].startswith("Olga here, checking")]
    assert len(relayed) == 1
    async with box.db() as session:
        rows = (await session.scalars(select(CaseMessage.text))).all()
        [update] = (
            await session.scalars(select(InboxUpdate).where(InboxUpdate.update_id == early[0]))
        ).all()
    assert list(rows).count("Olga here, checking") == 1
    assert update.done_at is not None


async def test_a_topic_agents_made_is_left_alone_unless_a_case_topic_is_being_made(
    group_box: Sandbox, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = group_box
    inbox = _inbox(box)
    agent = box.agent(AGENT_ID, "Olga")
    tries = Tries(box, monkeypatch)
    team = box.model.api_createForumTopic({"chat_id": GROUP, "name": "Team"}, {})
    await open_case(box, BUYER_ID)  # its topic is made and stored
    async with box.db() as session:
        svc = CaseService(CaseRepository(session), box.clock, box.settings)
        [case] = (await session.scalars(select(Case))).all()
        svc.topic_event(case, TOPIC_REQUESTED)  # asked again: no outcome stored yet
        await session.commit()
        assert await svc.topic_being_made()

    # The request is older than the moment a topic takes to be stored: it was cut
    # short, and the agents' own topic is theirs again.
    clock.advance(timedelta(seconds=TOPIC_SETTLE_SECONDS + 1))
    box.model.send_message(agent.id, "lunch?", chat_id=GROUP, thread_id=team["message_thread_id"])
    await inbox.accept(_updates(box))
    await asyncio.wait_for(inbox.drain(), 10)
    await box.process()
    async with box.db() as session:
        kept = (await session.scalars(select(CaseMessage.text))).all()
    assert len(tries.ids) == 1  # handled at once, not tried again
    assert "lunch?" not in kept  # not taken for the case's
    in_team = box.model.messages(GROUP, thread_id=team["message_thread_id"])
    assert [m.get("text") for m in in_team][1:] == ["lunch?"]  # and the bot said nothing there


def test_update_payloads_round_trip() -> None:
    raw = {
        "update_id": 7,
        "message": {
            "message_id": 1,
            "date": 1,
            "chat": {"id": 5, "type": "private"},
            "from": {"id": 5, "is_bot": False, "first_name": "A"},
            "text": "hi",
        },
    }
    update = Update.model_validate(raw)
    again = Update.model_validate(json.loads(update.model_dump_json(exclude_none=True)))
    assert again == update
    assert chat_key(update) == "5"
    in_topic = raw["message"] | {"chat": {"id": -100, "type": "supergroup"},
                                 "message_thread_id": 9, "is_topic_message": True}  # fmt: skip
    assert chat_key(Update.model_validate({"update_id": 8, "message": in_topic})) == "-100/9"


async def test_a_press_handled_again_after_a_restart_still_takes_its_step(
    sandbox: Sandbox,
) -> None:
    """The process died after answering a button but before committing: the press is
    handled again, Telegram calls the query too old, and the dialog step still happens."""
    inbox = _inbox(sandbox)
    anna = sandbox.person(46, "Anna")
    await anna.send("/start")
    menu = anna.inbox()[-1]
    data = next(d for label, d in anna.buttons(menu) if "Talk to a person" in label)
    sandbox.model.press(anna.id, anna.id, menu["message_id"], data)
    [press] = _updates(sandbox)
    await sandbox.dp.feed_update(sandbox.bot, press)  # first run, then "the crash"
    async with sandbox.db() as session:
        await session.execute(FsmRecord.__table__.delete())
        await session.commit()

    await inbox.accept([press])
    await inbox.drain()

    assert not any(m["text"].startswith("Sorry") for m in anna.inbox())
    [reply] = await anna.send("My parcel is lost")
    assert "registered" in reply["text"]


async def test_a_locked_sqlite_file_is_tried_again_quietly(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    locked = 2
    real_feed = sandbox.dp.feed_update

    async def feed(bot: Any, update: Update, **kwargs: Any) -> Any:
        nonlocal locked
        if locked:
            locked -= 1
            raise OperationalError("UPDATE", {}, Exception("database is locked"))
        return await real_feed(bot, update, **kwargs)

    monkeypatch.setattr(sandbox.dp, "feed_update", feed)
    inbox = _inbox(sandbox)
    anna = sandbox.person(47, "Anna")
    sandbox.model.send_message(anna.id, "/start")
    with caplog.at_level(logging.INFO, logger="supportbot.inbox"):
        await inbox.accept(_updates(sandbox))
        await inbox.drain()

    assert anna.inbox()[-1]["text"].startswith("Hello")
    # Contention is not an outage: nothing from the bot, no warning from anyone.
    noise = [
        r for r in caplog.records if r.name.startswith("supportbot") or r.levelno >= logging.WARNING
    ]
    assert noise == []


# ---------------------------------------------------------------- several processes


def _answers(person: Any) -> list[str]:
    return ["hello" if m["text"].startswith("Hello") else "help" for m in person.inbox()]


async def test_two_processes_handle_one_chats_updates_once_and_in_order(
    sandbox: Sandbox, redis_url: str
) -> None:
    """A buyer's updates posted to alternating workers: whichever takes the chat handles
    every update of it waiting in the table, oldest first; the other finds them done."""
    first, second = RedisLocks(redis_url), RedisLocks(redis_url)
    one, two = _inbox(sandbox, locks=first), _inbox(sandbox, locks=second)
    anna = sandbox.person(48, "Anna")
    for text in ("/start", "/help", "/start", "/help", "/start", "/help"):
        sandbox.model.send_message(anna.id, text)
    batch = _updates(sandbox)
    for n, update in enumerate(batch):
        await (one if n % 2 == 0 else two).accept([update])
    await asyncio.gather(one.drain(), two.drain())

    assert _answers(anna) == ["hello", "help"] * 3
    assert all(row.done_at is not None for row in await _rows(sandbox))
    assert one.busy == two.busy == 0
    await first.close()
    await second.close()


async def test_updates_a_killed_process_left_are_taken_over_after_its_lease(
    sandbox: Sandbox, redis_url: str
) -> None:
    anna = sandbox.person(49, "Anna")
    for text in ("/start", "/help"):
        sandbox.model.send_message(anna.id, text)
    batch = _updates(sandbox)
    # The killed process had stored both and held the chat (its lease runs out).
    dead = RedisLocks(redis_url, lease=1.0)
    lock = dead._redis.lock(dead.prefix + f"chat:{chat_key(batch[0])}", timeout=1.0)
    assert await lock.acquire()
    async with sandbox.db() as session:
        for update in batch:
            session.add(
                InboxUpdate(
                    update_id=update.update_id,
                    chat_key=chat_key(update),
                    payload=update.model_dump_json(exclude_none=True),
                    received_at=sandbox.clock.now(),
                )
            )
        await session.commit()

    locks = RedisLocks(redis_url)
    survivor = _inbox(sandbox, locks=locks)
    assert await survivor.adopt() == 2
    await survivor.drain()

    assert _answers(anna) == ["hello", "help"]
    assert all(row.done_at is not None for row in await _rows(sandbox))
    await dead.close()
    await locks.close()
