"""Bounded memory: per-user locks, flood counts, pacing counters, lanes, the card
cache and the card guard's last messages are released when unused, so 100,000
distinct people add no more than a few MB."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
import weakref
from datetime import timedelta

from aiogram.fsm.storage.base import StorageKey

from bot.app import GC_YOUNG_OBJECTS, freeze_startup_objects
from bot.clock import ManualClock
from bot.desk import handoff as handoff_module
from bot.desk import pacing
from bot.desk.pacing import LocalBuckets
from bot.emulator.sandbox import Sandbox
from bot.flood import FloodGuard
from bot.middlewares import CardGuardMiddleware, _Recent
from storage.isolation import LocalEventIsolation
from tests.conftest import make_settings
from tests.desk import GROUP, open_case

PEOPLE = 100_000


async def test_100000_people_writing_once_leave_bounded_structures(
    sqlite_url: str, clock: ManualClock
) -> None:
    box = await Sandbox.start(make_settings(sqlite_url, agent_chat_id=GROUP), clock)
    isolation = box.dp.fsm.events_isolation
    assert isinstance(isolation, LocalEventIsolation)
    flood: FloodGuard = box.dp["flood"]
    handoff = box.dp["handoff"]
    (card_guard,) = [
        m for m in box.dp.update.outer_middleware if isinstance(m, CardGuardMiddleware)
    ]
    # A few hundred through the whole dispatcher, with cases, as in production...
    for user in range(1, 201):
        box.model.add_user(user, f"U{user}")
        box.model.send_message(user, "hello")
    box.person(1000, "Anna")
    await open_case(box, 1000)
    await box.process()
    assert isolation.held == 0
    assert box.delivery._lanes == {}
    # ...then the same structures fed as 100,000 people writing once each.
    now = [0.0]
    buckets = LocalBuckets(lambda: now[0])
    guard = FloodGuard(flood.limit, flood.window)
    some_message = next(iter(card_guard.recent.values())).message
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for user in range(PEOPLE):
        now[0] += 0.01  # a hundred people a second
        async with isolation.lock(StorageKey(bot_id=1, chat_id=user, user_id=user)):
            pass
        guard.hit(user, now[0])
        await buckets.reserve(f"chat:{user}", 1.0)
        handoff._remember_card(user, "card")
        at = clock.now() + timedelta(seconds=now[0])
        card_guard._remember((user, user), _Recent(at, some_message))
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    sizes = {
        "locks": isolation.held,
        "flood counts": guard.counted,
        "pacing counters": buckets.kept,
        "cards": len(handoff._cards),
        "last messages": len(card_guard.recent),
    }
    print(f"{PEOPLE} people: {sizes}, memory grown by {grown / 1e6:.2f} MB")
    assert sizes["locks"] == 0
    assert sizes["flood counts"] <= 2 * pacing.PRUNE_AT
    assert sizes["pacing counters"] <= 2 * pacing.PRUNE_AT
    assert sizes["cards"] == handoff_module.CARD_CACHE
    # A minute's worth (SPLIT_WINDOW) at a hundred people a second.
    assert sizes["last messages"] == 6000
    assert grown < 5_000_000
    await box.stop()


def test_cycles_left_by_updates_are_still_collected_after_start_up() -> None:
    """The long-running process freezes what start-up built and collects the young
    objects less often (`freeze_startup_objects`): garbage in reference cycles is still
    freed, after a bounded number of new objects."""
    threshold = gc.get_threshold()
    asyncio.run(freeze_startup_objects())
    try:
        assert gc.get_threshold()[0] == GC_YOUNG_OBJECTS
        assert gc.get_freeze_count() > 0

        class Node:
            other: Node

        gone: list[weakref.ref[Node]] = []
        kept = []
        for _ in range(20):  # an update's leftovers: a cycle, then more work
            first, second = Node(), Node()
            first.other, second.other = second, first
            gone.append(weakref.ref(first))
            del first, second
            kept.extend([] for _ in range(GC_YOUNG_OBJECTS // 10))
        assert sum(ref() is not None for ref in gone) < 20
        assert gone[0]() is None
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
