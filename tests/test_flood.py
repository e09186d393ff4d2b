"""Flooding: one buyer sending hundreds of messages is asked once to slow down, the agents'
group gets no more than its limit, and every message is in the transcript."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.clock import ManualClock
from bot.emulator.model import RateLimits
from bot.emulator.sandbox import Agent, Sandbox
from storage.models import CaseMessage
from tests.conftest import make_settings
from tests.desk import GROUP, open_case

WINDOW = 1.0
"""Telegram's windows (a second, a minute) scaled down to a second."""
GROUP_WINDOW = 10.0
"""A group's minute scaled down to ten seconds: slower than the buyer types."""
MESSAGES = 300
SLOW_DOWN = "You are sending messages very fast"


async def test_one_buyer_flooding(sqlite_url: str, clock: ManualClock) -> None:
    settings = make_settings(
        sqlite_url,
        agent_chat_id=GROUP,
        bot_messages_per_second=30 / WINDOW,
        private_messages_per_second=1 / WINDOW,
        group_messages_per_minute=20 * 60 / GROUP_WINDOW,
    )
    box = await Sandbox.start(settings, clock)
    anna = box.person(10, "Anna")
    case_id = (await open_case(box, anna.id, reason="help")).case.id
    stranger = box.person(11, "Boris")
    box.model.enforce_limits(
        RateLimits(bot=(30, WINDOW), private=(4, 2 * WINDOW), group=(20, WINDOW))
    )
    await box.dp["pacer"].attach(box.bot)
    start = len(box.model.timeline)
    for n in range(MESSAGES):
        box.model.send_message(anna.id, f"flood {n}")
    for n in range(22):  # chatter without a case is dropped after the warning
        box.model.send_message(stranger.id, f"chatter {n}")
    await box.process()
    olga = Agent(box, 500, GROUP)
    warnings = [m for m in anna.inbox() if m["text"].startswith(SLOW_DOWN)]
    assert len(warnings) == 1
    assert len([m for m in stranger.inbox() if m["text"].startswith(SLOW_DOWN)]) == 1
    async with box.db() as session:
        stored = await session.scalar(
            select(func.count()).where(
                CaseMessage.case_id == case_id,
                CaseMessage.sender == "buyer",
                CaseMessage.text.like("flood %"),
            )
        )
        unsent = await session.scalar(
            select(func.count()).where(
                CaseMessage.delivery != "sent", CaseMessage.sender == "buyer"
            )
        )
    assert (stored, unsent) == (MESSAGES, 0)
    posted = "\n".join(m.get("text", "") for m in olga.topic(case_id))
    assert all(f"flood {n}\n" in posted + "\n" for n in range(MESSAGES))
    group = [t for t, _m, chat in box.model.timeline[start:] if chat == GROUP]
    seconds = group[-1] - group[0]
    print(f"{MESSAGES} messages -> {len(group)} group posts in {seconds:.1f} s, 429s: 0")
    assert box.model.rejections == []
    assert len(group) <= 20 * (seconds / GROUP_WINDOW) + 20
    assert len(group) < MESSAGES / 3
    await box.stop()
