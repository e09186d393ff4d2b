"""Telegram's limits, kept by design: the pacer spaces every call under the limits the
emulator enforces (scaled down in time), in order, and a long queue is announced."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import pytest
from aiogram.methods import SendMessage

from bot.clock import ManualClock
from bot.desk.delivery import IN_TURN, Delivery
from bot.desk.pacing import LocalBuckets, Pacer, RedisBuckets
from bot.emulator.model import RateLimits
from bot.emulator.sandbox import Agent, Sandbox
from bot.services import Services
from tests.conftest import make_settings
from tests.desk import GROUP, open_general_cases

WINDOW = 1.0
"""Telegram's windows (a second, a minute) scaled down to one second."""
CASES = 200


async def test_200_cases_at_once_reach_the_group_in_order_without_a_429(
    sqlite_url: str, clock: ManualClock
) -> None:
    settings = make_settings(
        sqlite_url,
        agent_chat_id=GROUP,
        bot_messages_per_second=30 / WINDOW,
        private_messages_per_second=1 / WINDOW,
        group_messages_per_minute=20 * 60 / WINDOW,
        queue_note_minutes=2 / 60,  # two seconds of queue
    )
    box = await Sandbox.start(settings, clock)
    box.model.enforce_limits(
        RateLimits(bot=(30, WINDOW), private=(5, 2 * WINDOW), group=(20, WINDOW))
    )
    await box.dp["pacer"].attach(box.bot)
    async with box.db() as session:
        svc = Services.build(session, settings, clock, handoff=box.dp["handoff"], bot=box.bot)
        for buyer in range(1, CASES + 1):
            box.model.add_user(buyer, f"Buyer {buyer}")
        await open_general_cases(svc, range(1, CASES + 1))
        await svc.commit()
    await box.process()
    olga = Agent(box, 500, GROUP)
    assert box.model.rejected == 0
    topics = [m for m in box.model.timeline if m[1] == "createForumTopic"]
    assert len(topics) == CASES
    # Topics are made oldest case first; a case still waiting for a database connection
    # when its turn came goes a little later.
    made = sorted(range(1, CASES + 1), key=olga.topic_id)
    ascending = sum(a < b for a, b in itertools.pairwise(made))
    assert ascending >= 0.95 * (CASES - 1)
    for case in range(1, CASES + 1):
        assert olga.topic(case)[0]["text"].startswith(f"📂 Case #{case}")
    group = [t for t, _method, chat in box.model.timeline if chat == GROUP]
    rate = (len(group) - 1) / (group[-1] - group[0])
    configured = 20 / WINDOW
    print(f"group calls: {len(group)}, {rate:.2f}/s of {configured:.0f}/s, in order: {ascending}")
    assert rate >= 0.9 * configured
    general = [m for m in box.model.bot_messages(GROUP) if "message_thread_id" not in m]
    assert len(general) == 1
    assert general[0]["text"].startswith("⏳ Telegram lets the bot post about 1200 messages")
    # The note went ahead of the queue, not behind it.
    assert general[0]["message_id"] < olga.topic(CASES)[0]["message_id"]
    assert box.dp["pacer"].queued == 0
    await box.stop()


async def test_retry_after_holds_the_chat() -> None:
    now = [0.0]
    buckets = LocalBuckets(lambda: now[0])
    assert await buckets.reserve("chat:1", 1.0) == 0
    await buckets.hold("chat:1", 5)
    assert await buckets.reserve("chat:1", 1.0) == 5
    assert await buckets.reserve("chat:2", 1.0) == 0


async def test_redis_shares_the_turns_between_processes(redis_url: str) -> None:
    first, second = RedisBuckets(redis_url), RedisBuckets(redis_url)
    waits = [await first.reserve("chat:-1", 0.5), await second.reserve("chat:-1", 0.5)]
    waits.append(await first.reserve("chat:-1", 0.5))
    assert waits[0] == pytest.approx(0, abs=0.05)
    assert waits[1] == pytest.approx(0.5, abs=0.05)
    assert waits[2] == pytest.approx(1.0, abs=0.05)
    await first.close()
    await second.close()


async def test_two_pacers_on_one_redis_keep_one_budget(redis_url: str) -> None:
    pacers = [
        Pacer(
            RedisBuckets(redis_url),
            bot_per_second=1000,
            private_per_second=10,
            group_per_minute=600,
            note_after_seconds=60,
        )
        for _ in range(2)
    ]
    stamps: list[float] = []

    async def send(pacer: Pacer) -> None:
        queue = await pacer._turn(None, "chat:-5", pacer.group_interval, -5)  # type: ignore[arg-type]
        stamps.append(time.monotonic())
        queue.went = time.monotonic()  # what the middleware does once the call went
        queue.resumed.set()

    await asyncio.gather(*(send(pacers[i % 2]) for i in range(10)))
    stamps.sort()
    gaps = [b - a for a, b in itertools.pairwise(stamps)]
    assert min(gaps) >= pacers[0].group_interval * 0.8
    for pacer in pacers:
        await pacer.close()


async def test_a_case_whose_buyer_keeps_writing_does_not_hold_up_a_newer_one() -> None:
    """Two cases' lanes post into one busy group: the older case's buyer writes again as
    soon as each post goes, the newer case's buyer once. The newer post goes in its
    turn, not after everything the older case kept adding."""
    pacer = Pacer(
        LocalBuckets(),
        bot_per_second=1000,
        private_per_second=1000,
        group_per_minute=60 / 0.02,  # a post every 20 ms
        note_after_seconds=60,
    )
    lanes = Delivery()
    posted: list[int] = []

    async def make_request(_bot: Any, method: SendMessage) -> Any:
        posted.append(int(method.text))
        return True

    def post(case_id: int, more: int = 0) -> None:
        async def job() -> None:
            await pacer(make_request, None, SendMessage(chat_id=GROUP, text=str(case_id)))  # type: ignore[arg-type]
            if more:  # the older case's buyer writes again at once
                post(case_id, more - 1)

        lanes.submit((case_id, "topic"), job, priority=IN_TURN)

    post(1, more=9)
    await asyncio.sleep(0.05)  # the older case's posts are under way
    post(2)
    for _ in range(200):
        if len(posted) == 11:
            break
        await asyncio.sleep(0.01)
    await pacer.close()
    assert sorted(posted) == [1] * 10 + [2]
    # Behind at most the older case's posts already waiting when it came.
    assert posted.index(2) <= 5, posted
